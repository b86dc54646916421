package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is the sidecar's state as /status and /readyz show it.
type Status struct {
	Ready           bool       `json:"ready"`
	Reason          string     `json:"reason,omitempty"` // why not ready
	State           string     `json:"state"`
	DBPath          string     `json:"db_path"`
	ReplicaURL      string     `json:"replica_url,omitempty"` // none for several databases: see Databases
	LocalTXID       string     `json:"local_txid,omitempty"`
	ReplicaTXID     string     `json:"replica_txid,omitempty"`
	LagSeconds      float64    `json:"lag_seconds"`
	LastSyncSuccess *time.Time `json:"last_sync_success,omitempty"`
	LeaseHolder     string     `json:"lease_holder,omitempty"`
	LeaseExpires    *time.Time `json:"lease_expires,omitempty"`
	// LeaseHeld: this sidecar holds the lease and may upload now (the
	// lease has more than the safety margin left by its clock).
	LeaseHeld bool `json:"lease_held"`
	Restore   any  `json:"restore,omitempty"` // the restore marker, when present
	// Wedged says why the process is stuck ("" when it is not); /healthz
	// answers 503 with it so that the liveness probe restarts the sidecar.
	Wedged string `json:"wedged,omitempty"`
	// Started: the app may start (/startupz): the sidecar holds the lease
	// and has checked the lineage, or proved the replica empty for a first
	// boot. It never turns false again in a process's life.
	Started bool `json:"started"`
	// Databases: with several databases, each one's status; the fields
	// above then sum them up (Combine). Each replicates to REPLICA_URL/<file
	// name>, and REPLICA_URL itself holds no replica, so the summary names
	// none: an empty replica_url would read as a replica at "".
	Databases []Status `json:"databases,omitempty"`
}

// StatusFunc returns the current status; it must be cheap and safe to call
// from any goroutine.
type StatusFunc func() Status

// Server is the sidecar's HTTP server on an explicit mux.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr and builds the handlers; Serve starts answering.
func Listen(addr string, m *Metrics, status StatusFunc, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           Mux(m, status, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}, nil
}

// Mux is the sidecar's endpoints on an explicit mux (docs/design.md
// "Endpoints"), apart from the listener so that tests can ask them
// without a port.
func Mux(m *Metrics, status StatusFunc, logger *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	gatherers := prometheus.Gatherers{m.Registry, prometheus.DefaultGatherer}
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelError),
		MaxRequestsInFlight: 4,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s := status(); s.Wedged != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "wedged", "reason": s.Wedged})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	// The startup probe's endpoint: the orchestrator starts the app only
	// after it answers 200, so that the app never runs on a copy the
	// sidecar has not proven to be the replica's latest.
	mux.HandleFunc("GET /startupz", func(w http.ResponseWriter, _ *http.Request) {
		s := status()
		if !s.Started {
			reason := s.Reason
			if reason == "" {
				reason = s.State
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"started": false, "state": s.State, "reason": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"started": true, "state": s.State})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		s := status()
		code := http.StatusOK
		if !s.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": s.Ready, "reason": s.Reason, "state": s.State})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, status())
	})
	return mux
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, letting in-flight requests finish within ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
