//go:build image

package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// ociDescriptor is the part of an OCI descriptor the check reads.
type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type ociImage struct {
	dir string
}

func (o ociImage) blob(t *testing.T, d ociDescriptor) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.dir, "blobs", strings.Replace(d.Digest, ":", "/", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (o ociImage) decode(t *testing.T, b []byte, into any) {
	t.Helper()
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// platforms returns the image manifests of the (possibly nested) index.
func (o ociImage) platforms(t *testing.T) []ociDescriptor {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(o.dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct{ Manifests []ociDescriptor }
	o.decode(t, raw, &idx)
	if len(idx.Manifests) == 1 && strings.HasSuffix(idx.Manifests[0].MediaType, "index.v1+json") {
		o.decode(t, o.blob(t, idx.Manifests[0]), &idx)
	}
	return idx.Manifests
}

// TestImage checks the multi-arch image `make image-oci` wrote (IMAGE_OCI,
// an OCI layout; `make image-check` sets it): one linux/amd64 and one
// linux/arm64 entry whose config runs replicate as a non-root user, and whose
// layers carry static binaries of the right architecture. Then it runs those
// binaries, taken out of the layers: the amd64 pair through the Kubernetes
// contract, the arm64 restore --verify under qemu-aarch64-static.
func TestImage(t *testing.T) {
	dir := os.Getenv("IMAGE_OCI")
	if dir == "" {
		t.Fatal("IMAGE_OCI not set: run `make image-check` (builds the image, then this test)")
	}
	o := ociImage{dir: dir}
	extracted := map[string]string{}
	for _, d := range o.platforms(t) {
		if d.Platform == nil {
			t.Fatalf("index entry %s has no platform", d.Digest)
		}
		arch := d.Platform.Architecture
		var man struct {
			Config ociDescriptor
			Layers []ociDescriptor
		}
		o.decode(t, o.blob(t, d), &man)
		var cfg struct {
			OS, Architecture string
			Config           struct {
				User       string
				Entrypoint []string
				Cmd        []string
				Labels     map[string]string
			}
		}
		o.decode(t, o.blob(t, man.Config), &cfg)
		if cfg.OS != "linux" || cfg.Architecture != arch || d.Platform.OS != "linux" {
			t.Errorf("%s: config says %s/%s, index says %s/%s", arch, cfg.OS, cfg.Architecture, d.Platform.OS, arch)
		}
		if u := cfg.Config.User; u == "" || u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
			t.Errorf("%s: image user %q is root", arch, u)
		}
		if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/replicate" || len(cfg.Config.Cmd) != 0 {
			t.Errorf("%s: entrypoint %v cmd %v, want [/usr/local/bin/replicate] and no cmd", arch, cfg.Config.Entrypoint, cfg.Config.Cmd)
		}
		for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision"} {
			if cfg.Config.Labels[l] == "" {
				t.Errorf("%s: label %s missing", arch, l)
			}
		}
		root := filepath.Join(t.TempDir(), arch)
		var packed, unpacked, gzipped int64
		for _, l := range man.Layers {
			blob := o.blob(t, l)
			packed += int64(len(blob))
			tarball := blob
			if strings.HasSuffix(l.MediaType, "gzip") {
				zr, err := gzip.NewReader(bytes.NewReader(blob))
				if err != nil {
					t.Fatal(err)
				}
				if tarball, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			unpacked += int64(len(tarball))
			gzipped += gzipSize(t, tarball)
			untar(t, tarball, root)
		}
		t.Logf("%s: %d layer(s), stored %s, uncompressed %s, gzip %s", arch, len(man.Layers), mb(packed), mb(unpacked), mb(gzipped))
		checkRootfs(t, arch, root)
		extracted[arch] = filepath.Join(root, "usr", "local", "bin")
	}
	if extracted["amd64"] == "" || extracted["arm64"] == "" || len(extracted) != 2 {
		t.Fatalf("image platforms %v, want exactly amd64 and arm64", keys(extracted))
	}
	t.Run("amd64/contract", func(t *testing.T) {
		checkVersion(t, extracted["amd64"], "linux/amd64")
		runContract(t, extracted["amd64"], kubernetesNode("overseerr"))
	})
	t.Run("arm64/verify-under-qemu", func(t *testing.T) { verifyUnderQEMU(t, extracted["amd64"], extracted["arm64"]) })
}

func checkRootfs(t *testing.T, arch, root string) {
	t.Helper()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	for _, name := range []string{"restore", "replicate"} {
		p := filepath.Join(root, "usr", "local", "bin", name)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", arch, err)
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			t.Fatalf("%s/%s: %v", arch, name, err)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s/%s is dynamically linked: a scratch image has no loader", arch, name)
			}
		}
		if f.Machine != machine {
			t.Errorf("%s/%s is built for %s", arch, name, f.Machine)
		}
		f.Close()
		if st.Mode()&0o111 != 0o111 {
			t.Errorf("%s/%s mode %v is not executable by everyone", arch, name, st.Mode())
		}
		t.Logf("%s/%s: %s", arch, name, mb(st.Size()))
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc", "passwd")); err != nil || !strings.Contains(string(b), ":65532:65532:") {
		t.Errorf("%s: /etc/passwd does not name the image user 65532 (%v)", arch, err)
	}
	if st, err := os.Stat(filepath.Join(root, "etc", "ssl", "certs", "ca-certificates.crt")); err != nil || st.Size() < 10000 {
		t.Errorf("%s: no CA bundle for TLS to S3 (%v)", arch, err)
	}
}

func checkVersion(t *testing.T, dir, platform string) {
	t.Helper()
	for _, name := range []string{"restore", "replicate"} {
		r := testenv.Exec(t, time.Minute, filepath.Join(dir, name), nil, "--version")
		if r.Code != 0 || !strings.Contains(r.Stdout, platform) || !strings.Contains(r.Stdout, "go1.") {
			t.Errorf("%s --version: exit %d, %q", name, r.Code, r.Stdout)
		}
		if v := os.Getenv("IMAGE_VERSION"); v != "" && !strings.Contains(r.Stdout, v) {
			t.Errorf("%s --version %q does not carry the build's version %s", name, r.Stdout, v)
		}
	}
}

// verifyUnderQEMU fills a replica with the amd64 pair, then runs the arm64
// restore --verify --json under qemu-aarch64-static and checks its report.
func verifyUnderQEMU(t *testing.T, amd64, arm64 string) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	testenv.Required(t, err)
	r := testenv.Exec(t, time.Minute, qemu, nil, filepath.Join(arm64, "restore"), "--version")
	if r.Code != 0 || !strings.Contains(r.Stdout, "linux/arm64") {
		t.Fatalf("arm64 restore --version under qemu: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
	}
	m := testenv.NewMinIO(t)
	a := kubernetesNode("overseerr")(t, t.TempDir(), amd64, m)
	if err := m.MakeBucket(t.Context(), replicaBucket(t, a.restore.env["REPLICA_URL"])); err != nil {
		t.Fatal(err)
	}
	s := start(t, a.replicate)
	s.WaitPath(t, a.startupPath, 30*time.Second)
	if err := os.MkdirAll(filepath.Dir(a.appDBs[0]), 0o755); err != nil {
		t.Fatal(err)
	}
	db := openApp(t, a.appDBs[0])
	const n = 20000
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := testenv.Insert(tx, i, strings.Repeat("y", 200)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s.WaitPath(t, a.readyPath, 60*time.Second)
	if code := s.Stop(t, a.grace); code != 0 {
		t.Fatalf("replicate exited %d: %s", code, s.Output())
	}

	start := time.Now()
	r = testenv.Exec(t, 5*time.Minute, qemu, envList(a.restore.env), filepath.Join(arm64, "restore"), "--verify", "--json")
	wall := time.Since(start)
	if r.Code != 0 {
		t.Fatalf("arm64 restore --verify exited %d: %s", r.Code, r.Stderr)
	}
	var rep struct {
		Integrity string `json:"integrity"`
		Database  struct {
			SizeBytes int64 `json:"size_bytes"`
			Tables    []struct {
				Name string `json:"name"`
				Rows int64  `json:"rows"`
			} `json:"tables"`
		} `json:"database"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("arm64 restore --verify --json: %v: %q", err, r.Stdout)
	}
	var items int64 = -1
	for _, tb := range rep.Database.Tables {
		if tb.Name == "items" {
			items = tb.Rows
		}
	}
	if rep.Integrity != "ok" || items != n {
		t.Fatalf("arm64 verify report: integrity %q, items %d rows (want ok, %d)", rep.Integrity, items, n)
	}
	if strings.Contains(r.Output(), testenv.SecretKey) {
		t.Error("the secret key appears in the verify output")
	}
	t.Logf("arm64 restore --verify under qemu: %s wall, database %s, %d rows, integrity %s", wall.Round(time.Millisecond), mb(rep.Database.SizeBytes), items, rep.Integrity)
}

func untar(t *testing.T, tarball []byte, root string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, b, os.FileMode(h.Mode)&0o7777)
				}
			}
		default:
			t.Fatalf("unexpected %q (type %c) in a scratch image layer", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func gzipSize(t *testing.T, b []byte) int64 {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return int64(buf.Len())
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB (%d bytes)", float64(n)/1e6, n) }

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
