// Package tlsenv makes S3_CA_FILE (and a user's AWS_CA_BUNDLE) work for both
// S3 clients in the process: Litestream's (AWS SDK) and minio-go's.
//
// Why the process environment: Litestream's S3 client builds its own
// http.Transport with the system roots and offers no hook for a CA, and the
// AWS SDK, when it sees AWS_CA_BUNDLE, refuses that custom client ("HTTP
// client type not supported") so Init fails. Go's crypto/x509 reads the system
// roots once, lazily, from SSL_CERT_FILE / SSL_CERT_DIR. So, before the first
// TLS handshake, Apply removes AWS_CA_BUNDLE from the environment and adds the
// CA file's directory to SSL_CERT_DIR: the system roots then hold the default
// bundle plus the private CA, for every client. This is the one place that
// writes the environment; settings are never passed around through it.
package tlsenv

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// defaultCertDirs mirrors crypto/x509's Linux directories, which setting
// SSL_CERT_DIR would otherwise replace.
var defaultCertDirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}

var once sync.Once

// Apply prepares the environment for caFile ("" for none). Only the first
// call has an effect; call it before any TLS connection is made.
func Apply(caFile string) {
	once.Do(func() {
		os.Unsetenv("AWS_CA_BUNDLE")
		if caFile == "" {
			return
		}
		dirs := defaultCertDirs
		if d := os.Getenv("SSL_CERT_DIR"); d != "" {
			dirs = strings.Split(d, ":")
		}
		os.Setenv("SSL_CERT_DIR", strings.Join(append([]string{filepath.Dir(caFile)}, dirs...), ":"))
	})
}
