package bucket

import (
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
)

// SetLevelsPage sets the page of the preflight's listing of the levels
// until the returned function restores it.
func SetLevelsPage(n int) (restore func()) {
	old := levelsPage
	levelsPage = n
	return func() { levelsPage = old }
}

// NewDNSTransport is the Store's DNS watch over next, with clock now.
func NewDNSTransport(next http.RoundTripper, now func() time.Time) http.RoundTripper {
	return &dnsTransport{next: next, now: now}
}

// RawClient is the Store's minio-go client, for tests that lay out or
// inspect objects beside the code under test.
func RawClient(s *Store) *minio.Client { return s.client }
