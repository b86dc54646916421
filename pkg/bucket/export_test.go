package bucket

import (
	"net/http"
	"time"
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
