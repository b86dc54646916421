package lease

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/fakestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// The lease's rules as tables against a store in memory that can
// misbehave as real stores have (internal/fakestore); lease_test.go and
// skew_test.go prove the same against the real MinIO.

const (
	self  = "node-a:1/vol-a"
	other = "node-b:7/vol-b"
)

var errStoreDown = errors.New("store down")

// fakeLease is a lease owned by self on a fresh fake store under prefix p.
func fakeLease() (*Lease, *fakestore.Store) {
	st := fakestore.New()
	st.Prefix = "p"
	l := New(st)
	l.Owner = self
	return l, st
}

func putDoc(t *testing.T, st *fakestore.Store, d Doc) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return st.Set(st.Key(Key), b)
}

func docIn(t *testing.T, st *fakestore.Store) *Doc {
	t.Helper()
	b, _, ok := st.Object(st.Key(Key))
	if !ok {
		return nil
	}
	var d Doc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("lease object %q: %v", b, err)
	}
	return &d
}

// TestAcquireRules: who may take the lease, by what the object holds.
func TestAcquireRules(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		cur     *Doc   // the object before; nil: none
		raw     string // an unreadable object instead
		reclaim string // ReclaimSuffix
		store   func(*fakestore.Store, *Lease)
		wantErr error // nil: taken
		wantGen int64
		// reclaimed: the acquisition took over a dead predecessor's
		// unexpired lease.
		reclaimed bool
	}{
		{name: "empty", wantGen: 1},
		{name: "held by another writer, unexpired", cur: &Doc{Generation: 4, ExpiresAt: now.Add(20 * time.Second), Owner: other}, wantErr: ErrHeld, wantGen: 4},
		{name: "held by another writer, expired", cur: &Doc{Generation: 4, ExpiresAt: now.Add(-time.Second), Owner: other}, wantGen: 5},
		{name: "released (zero expiry)", cur: &Doc{Generation: 4, Owner: other}, wantGen: 5},
		{name: "held by self", cur: &Doc{Generation: 4, ExpiresAt: now.Add(20 * time.Second), Owner: self}, wantGen: 5},
		{name: "held by a dead predecessor on this volume", cur: &Doc{Generation: 4, ExpiresAt: now.Add(20 * time.Second), Owner: "node-a:0/vol-a"}, reclaim: "/vol-a", wantGen: 5, reclaimed: true},
		{name: "held by another volume's writer, with a reclaim suffix", cur: &Doc{Generation: 4, ExpiresAt: now.Add(20 * time.Second), Owner: other}, reclaim: "/vol-a", wantErr: ErrHeld, wantGen: 4},
		{name: "unreadable object (replaced on its ETag)", raw: "not json", wantGen: 1},
		{name: "another writer creates between our read and our create", wantErr: ErrHeld, wantGen: 9,
			store: func(st *fakestore.Store, _ *Lease) {
				st.BeforePut = func(int) { putDoc(t, st, Doc{Generation: 9, ExpiresAt: now.Add(time.Minute), Owner: other}) }
			}},
		{name: "another writer renews between our read and our write", cur: &Doc{Generation: 4, ExpiresAt: now.Add(-time.Second), Owner: other}, wantErr: ErrHeld, wantGen: 5,
			store: func(st *fakestore.Store, _ *Lease) {
				st.BeforePut = func(int) { putDoc(t, st, Doc{Generation: 5, ExpiresAt: now.Add(time.Minute), Owner: other}) }
			}},
		{name: "store down", store: func(st *fakestore.Store, _ *Lease) { st.Err = errStoreDown }, wantErr: errStoreDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, st := fakeLease()
			l.ReclaimSuffix = tc.reclaim
			if tc.cur != nil {
				putDoc(t, st, *tc.cur)
			} else if tc.raw != "" {
				st.Set(st.Key(Key), []byte(tc.raw))
			}
			if tc.store != nil {
				tc.store(st, l)
			}
			err := l.Acquire(context.Background())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Acquire = %v, want %v", err, tc.wantErr)
			}
			if got := l.Valid(time.Now()); got != (err == nil) {
				t.Errorf("Valid = %v after Acquire = %v", got, err)
			}
			if l.Reclaimed != tc.reclaimed {
				t.Errorf("Reclaimed = %v, want %v", l.Reclaimed, tc.reclaimed)
			}
			if errors.Is(err, ErrHeld) && tc.cur != nil && !strings.Contains(err.Error(), tc.cur.Owner) && tc.store == nil {
				t.Errorf("Acquire = %v, does not name the holder %s", err, tc.cur.Owner)
			}
			if tc.wantErr == errStoreDown {
				return
			}
			d := docIn(t, st)
			if d == nil || d.Generation != tc.wantGen {
				t.Fatalf("lease object = %+v, want generation %d", d, tc.wantGen)
			}
			if want := err == nil; (d.Owner == self) != want || (want && !d.Live(time.Now().Add(TTL-time.Second))) {
				t.Errorf("lease object = %+v; taken: %v", d, want)
			}
		})
	}
}

// TestRenewRules: a renewal keeps the lease while the object is ours,
// loses it when another writer replaced it, recreates it when it vanished
// and nobody took it, and only closes the upload gate near the expiry
// when the store is down.
func TestRenewRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		// meanwhile happens between the acquisition and the renewal.
		meanwhile func(t *testing.T, st *fakestore.Store)
		wantErr   error // nil: kept
		// wantValid: uploads may go ahead after the renewal.
		wantValid bool
		wantOwner string // of the object after; "" for none
	}{
		{name: "nothing changed", wantValid: true, wantOwner: self},
		{name: "another writer replaced the object", wantErr: ErrLost, wantOwner: other,
			meanwhile: func(t *testing.T, st *fakestore.Store) {
				putDoc(t, st, Doc{Generation: 7, ExpiresAt: time.Now().Add(TTL), Owner: other})
			}},
		{name: "the object vanished (a wiped prefix)", wantValid: true, wantOwner: self,
			meanwhile: func(_ *testing.T, st *fakestore.Store) { st.Delete(st.Key(Key)) }},
		{name: "the object vanished and another writer created it first", wantErr: ErrLost, wantOwner: other,
			meanwhile: func(t *testing.T, st *fakestore.Store) {
				st.Delete(st.Key(Key))
				st.BeforePut = func(n int) {
					if n == 3 { // after the acquisition's put and the renewal's If-Match
						putDoc(t, st, Doc{Generation: 1, ExpiresAt: time.Now().Add(TTL), Owner: other})
					}
				}
			}},
		{name: "a store that takes If-Match on a missing key writes it back", wantValid: true, wantOwner: self,
			meanwhile: func(_ *testing.T, st *fakestore.Store) { st.Delete(st.Key(Key)); st.IfMatchMissing = true }},
		// An outage: the lease stays valid until Margin before its expiry
		// (checked below), not lost.
		{name: "store down", wantErr: errStoreDown, wantValid: true, wantOwner: self,
			meanwhile: func(_ *testing.T, st *fakestore.Store) { st.Err = errStoreDown }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, st := fakeLease()
			if err := l.Acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, until, _ := l.Held()
			if tc.meanwhile != nil {
				tc.meanwhile(t, st)
			}
			err := l.Renew(context.Background())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Renew = %v, want %v", err, tc.wantErr)
			}
			if got := l.Valid(time.Now()); got != tc.wantValid {
				t.Errorf("Valid = %v, want %v", got, tc.wantValid)
			}
			if _, _, ours := l.Held(); ours != (tc.wantErr == nil) && !errors.Is(tc.wantErr, errStoreDown) {
				t.Errorf("Held ours = %v after Renew = %v", ours, err)
			}
			if errors.Is(tc.wantErr, errStoreDown) && l.Valid(until.Add(-Margin)) {
				t.Error("a lease not renewed is still valid Margin before its expiry")
			}
			st.Err = nil
			d := docIn(t, st)
			if owner := ""; d != nil {
				owner = d.Owner
				if owner != tc.wantOwner {
					t.Errorf("lease object owner = %q, want %q", owner, tc.wantOwner)
				}
			} else if tc.wantOwner != "" {
				t.Errorf("no lease object, want one owned by %q", tc.wantOwner)
			}
			if errors.Is(tc.wantErr, ErrLost) {
				if err := l.Renew(context.Background()); !errors.Is(err, ErrLost) {
					t.Errorf("a renewal after the lease was lost = %v, want ErrLost", err)
				}
			}
		})
	}
}

// skewOf is a measurement off ours by offset, to within slack.
func skewOf(offset, slack time.Duration) *answer.Skew {
	return &answer.Skew{Offset: offset, Slack: slack, At: time.Now()}
}

// TestSkewRules: with the clock provably off the store's by more than
// MaxSkew the lease is neither taken nor kept; what is proven is Sure,
// the offset beyond the measurement's slack.
func TestSkewRules(t *testing.T) {
	slack := 100 * time.Millisecond
	for _, tc := range []struct {
		name  string
		skew  *answer.Skew
		taken bool
	}{
		{"no measurement", nil, true},
		{"right", skewOf(0, slack), true},
		{"behind, proven exactly MaxSkew", skewOf(MaxSkew+slack, slack), true},
		{"behind, offset beyond MaxSkew but not proven", skewOf(MaxSkew+slack/2, slack), true},
		{"behind beyond MaxSkew", skewOf(MaxSkew+slack+10*time.Millisecond, slack), false},
		{"ahead beyond MaxSkew", skewOf(-MaxSkew-slack-10*time.Millisecond, slack), false},
		{"30 s behind, from a Date", fakestore.Dated(30 * time.Second), false},
		{"30 s ahead, from a Date", fakestore.Dated(-30 * time.Second), false},
	} {
		t.Run("acquire/"+tc.name, func(t *testing.T) {
			l, st := fakeLease()
			st.SetSkew(tc.skew)
			err := l.Acquire(context.Background())
			if tc.taken != (err == nil) || (!tc.taken && !errors.Is(err, ErrClockSkew)) {
				t.Fatalf("Acquire = %v; want taken %v, else ErrClockSkew", err, tc.taken)
			}
			if !tc.taken && (docIn(t, st) != nil || l.Valid(time.Now())) {
				t.Fatal("a skewed acquisition wrote a lease or holds one")
			}
		})
		t.Run("renew/"+tc.name, func(t *testing.T) {
			l, st := fakeLease()
			if err := l.Acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
			st.SetSkew(tc.skew)
			err := l.Renew(context.Background())
			if tc.taken != (err == nil) || (!tc.taken && !errors.Is(err, ErrClockSkew)) {
				t.Fatalf("Renew = %v; want kept %v, else ErrClockSkew", err, tc.taken)
			}
			d := docIn(t, st)
			if tc.taken {
				if !l.Valid(time.Now()) || l.Problem() != nil || !d.Live(time.Now()) {
					t.Fatalf("a kept lease: valid %v, problem %v, object %+v", l.Valid(time.Now()), l.Problem(), d)
				}
				return
			}
			// Stood down: the gate closed, the object expired for every
			// clock, the reason kept for /readyz.
			if l.Valid(time.Now()) || !errors.Is(l.Problem(), ErrClockSkew) || !d.ExpiresAt.IsZero() || d.Owner != self {
				t.Fatalf("stood down: valid %v, problem %v, object %+v; want not valid, ErrClockSkew, expired at the zero time", l.Valid(time.Now()), l.Problem(), d)
			}
			if _, _, ours := l.Held(); ours {
				t.Error("a stood-down lease is reported held")
			}
		})
	}
}

// TestStandDownRules: a lease stood down for a skew is taken back once
// the clock is right, only if nobody wrote the object meanwhile.
func TestStandDownRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		meanwhile func(t *testing.T, st *fakestore.Store)
		stillOff  bool  // the clock is still skewed at the next renewal
		wantErr   error // of the next renewal
		wantOwner string
		wantWhy   string // in the error
	}{
		{name: "clock back, nobody wrote", wantOwner: self},
		{name: "still skewed", stillOff: true, wantErr: ErrClockSkew, wantOwner: self},
		{name: "clock back, another writer took it", wantErr: ErrLost, wantOwner: other, wantWhy: "taken by " + other + " while this sidecar stood down",
			meanwhile: func(t *testing.T, st *fakestore.Store) {
				putDoc(t, st, Doc{Generation: 3, ExpiresAt: time.Now().Add(TTL), Owner: other})
			}},
		{name: "clock back, the object vanished", wantOwner: self,
			meanwhile: func(_ *testing.T, st *fakestore.Store) { st.Delete(st.Key(Key)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, st := fakeLease()
			if err := l.Acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
			st.SetSkew(skewOf(30*time.Second, 500*time.Millisecond))
			if err := l.Renew(context.Background()); !errors.Is(err, ErrClockSkew) {
				t.Fatalf("Renew, skewed = %v", err)
			}
			if tc.meanwhile != nil {
				tc.meanwhile(t, st)
			}
			if !tc.stillOff {
				st.SetSkew(skewOf(0, 500*time.Millisecond))
			}
			err := l.Renew(context.Background())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) || !strings.Contains(errString(err), tc.wantWhy) {
				t.Fatalf("Renew = %v, want %v naming %q", err, tc.wantErr, tc.wantWhy)
			}
			if got := l.Valid(time.Now()); got != (err == nil) {
				t.Errorf("Valid = %v after Renew = %v", got, err)
			}
			d := docIn(t, st)
			if d == nil || d.Owner != tc.wantOwner || d.Live(time.Now()) != (tc.wantErr != ErrClockSkew) {
				t.Errorf("lease object = %+v, want owner %s, live unless still skewed", d, tc.wantOwner)
			}
		})
	}
}

// TestProbeRules: the probe passes a store that enforces the conditional
// writes the lease rests on and names the one a store lets through (the
// sidecar then exits 78), and removes what it wrote.
func TestProbeRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		store   func(*fakestore.Store)
		wantErr error
		what    string // the probe named in the error
	}{
		{name: "enforced"},
		{name: "If-None-Match ignored under concurrency", store: func(s *fakestore.Store) { s.RacingCreates = true },
			wantErr: ErrUnconditional, what: "If-None-Match"},
		{name: "If-Match with another ETag ignored", store: func(s *fakestore.Store) { s.IgnoreIfMatch = true },
			wantErr: ErrUnconditional, what: "If-Match with another ETag"},
		{name: "If-Match on a missing key accepted", store: func(s *fakestore.Store) { s.IfMatchMissing = true },
			wantErr: ErrUnconditional, what: "missing object"},
		{name: "store down", store: func(s *fakestore.Store) { s.Err = errStoreDown }, wantErr: errStoreDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := fakestore.New()
			st.Prefix = "apps/x"
			if tc.store != nil {
				tc.store(st)
			}
			err := Probe(context.Background(), st)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) || !strings.Contains(errString(err), tc.what) {
				t.Fatalf("Probe = %v, want %v naming %q", err, tc.wantErr, tc.what)
			}
			if errors.Is(err, errStoreDown) && errors.Is(err, ErrUnconditional) {
				t.Fatal("a store that fails is not a store that ignores conditions")
			}
			st.Err = nil
			if ks := st.Keys(); len(ks) != 0 {
				t.Errorf("the probe left %v behind", ks)
			}
		})
	}
}

// TestRacingCreates: on a store that lets two racing creates both win,
// two writers both hold the lease, which is why the probe runs first.
func TestRacingCreates(t *testing.T) {
	a, st := fakeLease()
	st.RacingCreates = true
	b := New(st)
	b.Owner = other
	st.BeforePut = func(n int) {
		if n == 1 { // b reads the empty prefix and creates before a writes
			st.BeforePut = nil
			if err := b.Acquire(context.Background()); err != nil {
				t.Errorf("b: %v", err)
			}
		}
	}
	if err := a.Acquire(context.Background()); err != nil {
		t.Fatalf("a: %v", err)
	}
	if !a.Valid(time.Now()) || !b.Valid(time.Now()) {
		t.Fatal("want both writers holding the lease on such a store")
	}
	if err := Probe(context.Background(), st); !errors.Is(err, ErrUnconditional) {
		t.Fatalf("Probe on that store = %v, want ErrUnconditional", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
