package bucket

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// Which failures of a request to the store a retry cannot change. Retry
// loops (Preflight, restore's wait for a writer, the sidecar's wait for the
// lease) stop at once on them, with one line naming the setting to fix,
// instead of repeating the same answer until RESTORE_TIMEOUT and then
// reporting it as a store that did not answer. The table, with the
// reason for each row, is docs/design.md "Permanent errors".

// ErrPermanent marks a classified error whose request, sent again, gets
// the same answer (errors.Is); it adds nothing to the message.
var ErrPermanent = errors.New("permanent: the same request gets the same answer")

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// final is err, marked permanent, with its exit code.
func final(code int, err error) error { return sysexit.New(code, &permanentError{err}) }

// Permanent reports whether a classified error is final: retrying the
// request cannot change it, so a retry loop stops at once.
func Permanent(err error) bool { return errors.Is(err, ErrPermanent) }

// Retryable reports whether a classified error may go away by itself.
func Retryable(err error) bool { return errors.Is(err, ErrUnreachable) && !Permanent(err) }

// classifyRequest classifies a request that got no answer from the store
// (the error came from the transport: scheme, TLS, DNS); nil when a
// retry may still get one.
func classifyRequest(err error) error {
	endpoint := "(AWS)"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	var (
		unknownCA x509.UnknownAuthorityError
		otherHost x509.HostnameError
		invalid   *tls.CertificateVerificationError
		gone      *hostGone
	)
	switch {
	case errors.Is(err, http.ErrSchemeMismatch):
		return final(sysexit.Usage, fmt.Errorf("S3_ENDPOINT %s answers plain HTTP, not HTTPS: use the scheme http://, not https://", endpoint))
	case errors.As(err, &unknownCA):
		return final(sysexit.Usage, fmt.Errorf("S3_ENDPOINT %s presents a certificate signed by an authority this node does not trust (%v): set S3_CA_FILE to the PEM file of its CA", endpoint, unknownCA))
	case errors.As(err, &otherHost):
		return final(sysexit.Usage, fmt.Errorf("S3_ENDPOINT %s presents a certificate for another host (%v): use a host name the certificate names in S3_ENDPOINT", endpoint, otherHost))
	case errors.As(err, &invalid):
		// Expired, not yet valid (this node's clock?), not for serving:
		// the store's certificate must change, which no retry does.
		return final(sysexit.Unavailable, fmt.Errorf("%w: the certificate of S3 endpoint %s is not valid: %v", ErrUnreachable, endpoint, invalid.Err))
	case errors.As(err, &gone):
		return final(sysexit.Unavailable, fmt.Errorf("%w: S3 endpoint %s: host %q does not exist (DNS answered NXDOMAIN for %s); check the host in S3_ENDPOINT, and that the store's Service or DNS name exists",
			ErrUnreachable, endpoint, gone.host, gone.after.Round(time.Second)))
	}
	return nil
}

// rejected reports whether the store answered that it will not serve the
// request as sent: a 4xx other than the ones that ask to come back later
// (408, 429, 499, and the codes minio-go retries, such as RequestTimeout
// and SlowDown), or 501. Conflict (409) and PreconditionFailed (412) stay
// retryable: the lease's conditional writes read them before classifying,
// and elsewhere S3 uses 409 for an operation still in progress. NoSuchKey
// is an answer about one object, which its caller reads.
func rejected(r minio.ErrorResponse) bool {
	switch {
	case r.StatusCode == http.StatusNotImplemented:
		return true
	case r.StatusCode < 400 || r.StatusCode >= 500:
		return false
	}
	switch r.StatusCode {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusPreconditionFailed, http.StatusTooManyRequests, 499:
		return false
	}
	switch r.Code {
	case "NoSuchKey", "RequestError", "RequestTimeout", "Throttling", "ThrottlingException", "RequestLimitExceeded",
		"RequestThrottled", "InternalError", "SlowDown", "SlowDownWrite", "SlowDownRead":
		return false
	}
	return true
}

// rejection is the error of a rejected request: the store's own words,
// which name neither credentials nor signatures (a signature mismatch is
// a 403, reported by its code alone).
func rejection(r minio.ErrorResponse) error {
	if strings.Contains(r.Message, "HTTP request to an HTTPS server") {
		return final(sysexit.Usage, errors.New("S3_ENDPOINT answers HTTPS, not plain HTTP: use the scheme https://, not http://"))
	}
	what := r.Code
	if r.Message != "" && r.Message != r.Code {
		what += ": " + sysexit.OneLine(errors.New(r.Message))
	}
	if !strings.HasPrefix(what, fmt.Sprint(r.StatusCode)) {
		what = fmt.Sprintf("HTTP %d %s", r.StatusCode, what)
	}
	return final(sysexit.Usage, fmt.Errorf("the S3 endpoint refused the request (%s), and refuses it again when retried; check S3_ENDPOINT and S3_REGION", what))
}

// nxdomainGrace is how long the store's host must keep answering NXDOMAIN
// before that answer is taken as final. One NXDOMAIN proves little: a
// Kubernetes Service created a moment ago is not in CoreDNS yet, and its
// negative answer is cached for 5 s (CoreDNS's and NodeLocal DNSCache's
// denial TTL); a Nomad service is missing from Consul until it registers.
// Two answers this far apart, nothing else between them, outlast those.
const nxdomainGrace = 10 * time.Second

// hostGone is a DNS NXDOMAIN for the store's host that has lasted at
// least nxdomainGrace.
type hostGone struct {
	host  string
	after time.Duration
	err   error
}

func (e *hostGone) Error() string { return e.err.Error() }
func (e *hostGone) Unwrap() error { return e.err }

// dnsTransport watches the DNS answers for the store's host across every
// request: an NXDOMAIN that has been the only answer for nxdomainGrace
// comes out as hostGone, which Classify reads as final. Any other outcome
// (a response, a refused connection: the name resolved) starts afresh; a
// DNS failure that is no answer (timeout, SERVFAIL) neither extends nor
// ends the run.
type dnsTransport struct {
	next  http.RoundTripper
	now   func() time.Time
	mu    sync.Mutex
	since time.Time // first NXDOMAIN of the current run; zero when none
}

func (t *dnsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	var dns *net.DNSError
	isDNS := err != nil && errors.As(err, &dns)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !isDNS:
		t.since = time.Time{}
		return resp, err
	case !dns.IsNotFound:
		return resp, err
	}
	now := t.now()
	if t.since.IsZero() {
		t.since = now
	}
	if d := now.Sub(t.since); d >= nxdomainGrace {
		return resp, &hostGone{host: dns.Name, after: d, err: err}
	}
	return resp, err
}
