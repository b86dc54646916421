package restore

import (
	"testing"
	"time"
)

// planBefore makes --timestamp at or before, as Litestream's plan reads a
// bound: a file stamped s is kept when s is before it.
func TestPlanBefore(t *testing.T) {
	s := time.Date(2026, 11, 22, 19, 27, 40, 538*int(time.Millisecond), time.UTC) // stamps are whole ms
	for _, tc := range []struct {
		name string
		at   time.Time
		kept bool
	}{
		{"at the stamp, as a report prints it", s, true},
		{"within the stamp's millisecond", s.Add(400 * time.Microsecond), true},
		{"a millisecond after", s.Add(time.Millisecond), true},
		{"a millisecond before", s.Add(-time.Millisecond), false},
		{"under a millisecond before", s.Add(-400 * time.Microsecond), false},
		{"the whole second, before the stamp", s.Truncate(time.Second), false},
		{"the next whole second", s.Truncate(time.Second).Add(time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Target{Timestamp: tc.at}.planBefore()
			if kept := s.Before(b); kept != tc.kept {
				t.Fatalf("--timestamp %s keeps a file stamped %s: %t, want %t (bound %s)",
					tc.at.Format(time.RFC3339Nano), s.Format(time.RFC3339Nano), kept, tc.kept, b.Format(time.RFC3339Nano))
			}
		})
	}
	if b := (Target{}).planBefore(); !b.IsZero() {
		t.Fatalf("no --timestamp gives the bound %s, want none", b)
	}
}
