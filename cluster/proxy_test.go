package cluster

import (
	"github.com/redis/go-redis/v9"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards 127.0.0.1 connections to a real server and can break
// them the ways a network does, without touching the shared server:
// freeze stops forwarding on the open connections (a half-open socket),
// stop refuses new ones and closes the open ones.
type tcpProxy struct {
	t       testing.TB
	target  string
	ln      net.Listener
	addr    string
	mu      sync.Mutex
	conns   []net.Conn
	freezes []chan struct{}
}

func newTCPProxy(t testing.TB, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	frozen := make(chan struct{})
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.freezes = append(p.freezes, frozen)
	p.mu.Unlock()
	copyUntilFrozen := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				_ = dst.Close()
				return
			}
			select {
			case <-frozen:
				continue // swallow: the peer never hears back
			default:
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
	}
	go copyUntilFrozen(server, client)
	go copyUntilFrozen(client, server)
}

// freeze makes every open connection silent; new ones still work.
func (p *tcpProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.freezes {
		close(f)
	}
	p.freezes = nil
}

// stop closes the listener and every open connection.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// restart listens again on the same address.
func (p *tcpProxy) restart() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// redisViaProxy returns a proxy to the test Redis and client options that
// go through it.
func redisViaProxy(t testing.TB) (*tcpProxy, *redis.Options) {
	t.Helper()
	target, err := ParseRedisURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opt := target.Single
	proxy := newTCPProxy(t, opt.Addr)
	viaProxy := *opt
	viaProxy.Addr = proxy.addr
	return proxy, &viaProxy
}
