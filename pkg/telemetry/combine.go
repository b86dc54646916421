package telemetry

import (
	"path/filepath"
	"strings"
)

// Combine sums up several databases' statuses for the endpoints: ready and
// started only when every database is; the reason, and the wedged reason,
// name each database that is not; the state is the databases' common
// state, or each one's ("a.db: replicating; b.db: failed"). LeaseHeld only
// when every one holds its lease. Each database's own status is under
// Databases.
func Combine(dbs []Status) Status {
	c := Status{Ready: true, Started: true, LeaseHeld: true, Databases: dbs}
	var reasons, wedged, states []string
	same := true
	for i, d := range dbs {
		name := filepath.Base(d.DBPath)
		c.Ready = c.Ready && d.Ready
		c.Started = c.Started && d.Started
		c.LeaseHeld = c.LeaseHeld && d.LeaseHeld
		c.LagSeconds = max(c.LagSeconds, d.LagSeconds)
		if !d.Ready {
			r := d.Reason
			if r == "" {
				r = d.State
			}
			reasons = append(reasons, name+": "+r)
		}
		if d.Wedged != "" {
			wedged = append(wedged, name+": "+d.Wedged)
		}
		states = append(states, name+": "+d.State)
		same = same && d.State == dbs[0].State
		if i > 0 {
			c.DBPath += ","
		}
		c.DBPath += d.DBPath
	}
	c.Reason = strings.Join(reasons, "; ")
	c.Wedged = strings.Join(wedged, "; ")
	if same && len(dbs) > 0 {
		c.State = dbs[0].State
	} else {
		c.State = strings.Join(states, "; ")
	}
	return c
}
