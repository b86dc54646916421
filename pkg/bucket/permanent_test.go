package bucket_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"

	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestPermanent is the table of docs/design.md "Permanent errors": which
// failures a retry loop stops on at once (and with which exit code), and
// which it retries. Each row is the error type the transport or minio-go
// returns; TestPermanentOnTheWire shows they do on real connections.
func TestPermanent(t *testing.T) {
	get := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://minio:9000/backups/?location=", Err: err}
	}
	dial := func(err error) error { return get(&net.OpError{Op: "dial", Net: "tcp", Err: err}) }
	verify := func(err error) error { return get(&tls.CertificateVerificationError{Err: err}) }
	s3 := func(status int, code string) error {
		return minio.ErrorResponse{StatusCode: status, Code: code, Message: "the store says why"}
	}
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
		code      int
		want      string // in the message
	}{
		{"https:// to an http endpoint", get(http.ErrSchemeMismatch), true, sysexit.Usage, "S3_ENDPOINT https://minio:9000 answers plain HTTP, not HTTPS: use the scheme http://"},
		{"certificate of an unknown authority", verify(x509.UnknownAuthorityError{}), true, sysexit.Usage, "set S3_CA_FILE"},
		{"certificate for another host", verify(x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"example.com"}}, Host: "minio"}), true, sysexit.Usage, "certificate for another host"},
		{"certificate expired", verify(x509.CertificateInvalidError{Reason: x509.Expired}), true, sysexit.Unavailable, "the certificate of S3 endpoint https://minio:9000 is not valid"},
		{"HTTP 400", s3(400, "InvalidArgument"), true, sysexit.Usage, "HTTP 400 InvalidArgument: the store says why"},
		{"HTTP 400 wrong region", s3(400, "AuthorizationHeaderMalformed"), true, sysexit.Usage, "check S3_ENDPOINT and S3_REGION"},
		{"HTTP 405 (not an S3 endpoint)", s3(405, "MethodNotAllowed"), true, sysexit.Usage, "HTTP 405"},
		{"HTTP 501", s3(501, "NotImplemented"), true, sysexit.Usage, "HTTP 501"},
		{"http:// to an https endpoint", minio.ErrorResponse{StatusCode: 400, Code: "400 Bad Request", Message: "Client sent an HTTP request to an HTTPS server.\n"}, true, sysexit.Usage, "use the scheme https://"},
		{"HTTP 403", s3(403, "AccessDenied"), true, sysexit.NoPerm, "access denied"},
		{"HTTP 404 no bucket", s3(404, "NoSuchBucket"), true, sysexit.DataErr, "bucket does not exist"},

		{"DNS NXDOMAIN once", dial(&net.DNSError{Err: "no such host", Name: "minio", IsNotFound: true}), false, sysexit.Unavailable, "no such host"},
		{"DNS timeout", dial(&net.DNSError{Err: "i/o timeout", Name: "minio", IsTimeout: true}), false, sysexit.Unavailable, "i/o timeout"},
		{"connection refused", dial(syscall.ECONNREFUSED), false, sysexit.Unavailable, "connection refused"},
		{"deadline", get(context.DeadlineExceeded), false, sysexit.Unavailable, "deadline exceeded"},
		{"HTTP 400 RequestTimeout", s3(400, "RequestTimeout"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 404 NoSuchKey", s3(404, "NoSuchKey"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 408", s3(408, "RequestTimeout"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 409 (the lease reads it first)", s3(409, "ConditionalRequestConflict"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 412 (the lease reads it first)", s3(412, "PreconditionFailed"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 429", s3(429, "SlowDown"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 500", s3(500, "InternalError"), false, sysexit.Unavailable, "replica unreachable"},
		{"HTTP 503", s3(503, "XMinioServerNotInitialized"), false, sysexit.Unavailable, "replica unreachable"},
	} {
		err := bucket.Classify(tc.err)
		if got := bucket.Permanent(err); got != tc.permanent {
			t.Errorf("%s: Permanent = %v, want %v (%v)", tc.name, got, tc.permanent, err)
		}
		if got := bucket.Retryable(err); got == tc.permanent {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, !tc.permanent)
		}
		if got := sysexit.Code(err); got != tc.code {
			t.Errorf("%s: exit %d, want %d (%v)", tc.name, got, tc.code, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q lacks %q", tc.name, err, tc.want)
		}
	}
}

// TestPermanentOnTheWire: the errors TestPermanent's rows stand for are
// the ones real connections produce through the Store's own client, and
// the preflight returns them at once instead of retrying to the deadline.
func TestPermanentOnTheWire(t *testing.T) {
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	// Go's TLS server logs the handshakes it refuses; not this test's concern.
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	host := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	}
	for _, tc := range []struct {
		name     string
		endpoint string
		code     int
		want     string
	}{
		{"https:// to an http endpoint", "https://" + host(plain), sysexit.Usage, "S3_ENDPOINT https://" + host(plain) + " answers plain HTTP, not HTTPS: use the scheme http://, not https://"},
		{"certificate of an unknown authority", "https://" + host(tlsSrv), sysexit.Usage, "signed by an authority this node does not trust"},
		{"http:// to an https endpoint", "http://" + host(tlsSrv), sysexit.Usage, "refuses it again when retried"},
	} {
		cfg := &config.Config{ReplicaURL: "s3://backups/app", S3Endpoint: tc.endpoint, S3Region: "us-east-1", AccessKeyID: "id", SecretAccessKey: "secret-value"}
		s, err := bucket.New(cfg, bucket.OneAttempt)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		_, err = s.Preflight(ctx, slog.New(slog.DiscardHandler))
		cancel()
		if !bucket.Permanent(err) || sysexit.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Preflight = %v (exit %d); want permanent, exit %d, %q", tc.name, err, sysexit.Code(err), tc.code, tc.want)
		}
		// Retried, it would have run into the one-minute deadline.
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%s: Preflight took %s: it retried", tc.name, d)
		}
		if strings.Contains(err.Error(), "secret-value") {
			t.Errorf("%s: the error holds the secret", tc.name)
		}
	}
}

// TestNXDOMAINPersists: one NXDOMAIN is retried (a Service created a moment
// ago); an NXDOMAIN that has been the only answer for 10 s is final. Any
// answer in between starts the count afresh; a DNS timeout is no answer.
func TestNXDOMAINPersists(t *testing.T) {
	nx := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "minio.default.svc", IsNotFound: true}}
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "minio.default.svc", IsTimeout: true}}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	var now time.Time
	var next error
	rt := bucket.NewDNSTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		if next != nil {
			return nil, next
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}), func() time.Time { return now })
	client := &http.Client{Transport: rt}
	for i, step := range []struct {
		at        time.Duration
		answer    error
		permanent bool
	}{
		{0, nx, false},
		{5 * time.Second, nx, false},
		{8 * time.Second, timeout, false}, // no answer: neither ends nor extends the run
		{10 * time.Second, nx, true},      // NXDOMAIN for 10 s
		{11 * time.Second, nx, true},
		{12 * time.Second, nil, false}, // the name resolves: afresh
		{13 * time.Second, nx, false},
		{20 * time.Second, refused, false}, // resolved, nobody listening: afresh
		{21 * time.Second, nx, false},
		{30 * time.Second, nx, false},
		{31 * time.Second, nx, true},
	} {
		now, next = time.Unix(0, 0).Add(step.at), step.answer
		resp, err := client.Get("http://minio.default.svc:9000/backups/")
		if err == nil {
			resp.Body.Close()
			if step.answer != nil {
				t.Fatalf("step %d: no error", i)
			}
			continue
		}
		cerr := bucket.Classify(err)
		if got := bucket.Permanent(cerr); got != step.permanent {
			t.Errorf("step %d at %s: Permanent = %v, want %v (%v)", i, step.at, got, step.permanent, cerr)
		}
		if step.permanent && (sysexit.Code(cerr) != sysexit.Unavailable || !strings.Contains(cerr.Error(), `host "minio.default.svc" does not exist (DNS answered NXDOMAIN for`)) {
			t.Errorf("step %d: %v (exit %d); want 69 naming the host", i, cerr, sysexit.Code(cerr))
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
