//go:build faults

package faults_test

import (
	"crypto/rand"
	"encoding/hex"
	"syscall"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// seed creates e.dbPath with the app's rows 1..n, each with ~400 bytes of
// incompressible text for a body, and replicates it with a clean sidecar
// stop, so the replica holds exactly those rows.
func (e *env) seed(n int) {
	e.t.Helper()
	db := testenv.OpenApp(e.t, e.dbPath)
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	buf := make([]byte, 200)
	for i := 1; i <= n; i++ {
		rand.Read(buf)
		if err := testenv.Insert(tx, i, hex.EncodeToString(buf)); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
	sc, addr := e.startSidecar(e.m.Endpoint)
	if err := testenv.WaitReady(addr, time.Minute, sc); err != nil {
		e.t.Fatalf("seed sidecar: %v: %s", err, sc.Output())
	}
	if code, err := sc.Signal(syscall.SIGTERM, time.Minute); err != nil || code != 0 {
		e.t.Fatalf("seed sidecar stop: exit %d, %v: %s", code, err, sc.Output())
	}
}
