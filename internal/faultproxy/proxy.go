// Package faultproxy is a TCP proxy that tests put between the binaries and
// MinIO to inject network faults: a blackhole (accepts, never answers),
// connection resets mid-transfer, added latency and a bandwidth cap. Faults
// can be changed while connections are open; they apply from the next chunk.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how the proxy treats traffic.
type Mode int32

const (
	// Pass forwards traffic (subject to latency and bandwidth).
	Pass Mode = iota
	// Blackhole accepts connections and reads from them but never forwards
	// or answers, like a host whose packets are dropped after the handshake.
	Blackhole
	// Reset forwards ResetAfter bytes of each connection, then aborts it
	// with a TCP RST in both directions.
	Reset
)

// chunk is the forwarding unit; faults are applied per chunk.
const chunk = 32 << 10

// Proxy forwards a local 127.0.0.1 port to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mode       atomic.Int32
	latency    atomic.Int64 // per chunk and direction, nanoseconds
	bandwidth  atomic.Int64 // bytes per second per direction; 0 = unlimited
	resetAfter atomic.Int64 // bytes per connection in Reset mode

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on a free 127.0.0.1 port and forwards to target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.resetAfter.Store(64 << 10)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address (127.0.0.1:PORT).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the fault mode.
func (p *Proxy) SetMode(m Mode) { p.mode.Store(int32(m)) }

// SetLatency delays every chunk in each direction by d.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// SetBandwidth caps each direction of each connection to bytesPerSec (0: no cap).
func (p *Proxy) SetBandwidth(bytesPerSec int64) { p.bandwidth.Store(bytesPerSec) }

// SetResetAfter sets how many bytes a connection carries before Reset mode aborts it.
func (p *Proxy) SetResetAfter(n int64) { p.resetAfter.Store(n) }

// Close stops accepting and aborts every open connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		abort(c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c, true)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.track(client, false)
	if Mode(p.mode.Load()) == Blackhole {
		io.Copy(io.Discard, client) // until the client gives up or Close aborts it
		client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		abort(client)
		return
	}
	p.track(server, true)
	defer p.track(server, false)
	var carried atomic.Int64
	done := make(chan bool, 2) // true: clean end of one direction (EOF passed on)
	go func() { done <- p.pump(server, client, &carried) }()
	go func() { done <- p.pump(client, server, &carried) }()
	if clean := <-done; !clean {
		abort(client)
		abort(server)
	}
	<-done
	abort(client)
	abort(server)
}

// piece is a chunk read from one side, stamped with when it was read.
type piece struct {
	b   []byte
	at  time.Time
	err error
}

// pump copies src to dst, applying the current faults. Latency is
// pipelined: each chunk leaves d after it arrived, so it delays without
// capping throughput. It reports true when src ended cleanly and the
// half-close was passed on.
func (p *Proxy) pump(dst, src net.Conn, carried *atomic.Int64) bool {
	pieces := make(chan piece, 256)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			buf := make([]byte, chunk)
			n, err := src.Read(buf)
			select {
			case pieces <- piece{b: buf[:n], at: time.Now(), err: err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for pc := range pieces {
		if n := len(pc.b); n > 0 {
			switch Mode(p.mode.Load()) {
			case Blackhole:
				continue // swallow: the peer waits forever
			case Reset:
				if carried.Add(int64(n)) > p.resetAfter.Load() {
					return false
				}
			}
			if d := time.Duration(p.latency.Load()); d > 0 {
				time.Sleep(time.Until(pc.at.Add(d)))
			}
			if bps := p.bandwidth.Load(); bps > 0 {
				time.Sleep(time.Duration(float64(n) / float64(bps) * float64(time.Second)))
			}
			if _, err := dst.Write(pc.b); err != nil {
				return false
			}
		}
		if pc.err != nil {
			if tc, ok := dst.(*net.TCPConn); ok && errors.Is(pc.err, io.EOF) {
				return tc.CloseWrite() == nil // pass the half-close on
			}
			return false
		}
	}
	return false
}

// abort closes c with a TCP RST rather than a FIN.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
