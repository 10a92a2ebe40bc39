package rpcguard

import (
	"net"
	"sync"
)

// limitListener accepts connections up to a total and a per-IP cap. One over a cap is closed
// at once (counted, not queued), so held connections never take more file descriptors than
// the caps and a client from another address is still accepted.
type limitListener struct {
	net.Listener
	g     *Server
	mu    sync.Mutex
	open  int
	perIP map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr().String())
		if reason := l.admit(ip); reason != "" {
			l.g.refuse(reason)
			if tc, ok := c.(*net.TCPConn); ok {
				if err := tc.SetLinger(0); err != nil { // a reset, no TIME_WAIT left behind
					l.g.log.Debug("JSON-RPC: refused connection", "err", err, "remote", ip)
				}
			}
			if err := c.Close(); err != nil {
				l.g.log.Debug("JSON-RPC: closing a refused connection", "err", err, "remote", ip)
			}
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *limitListener) admit(ip string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.g.cfg.MaxConns:
		return "conns_total"
	case l.perIP[ip] >= l.g.cfg.MaxConnsPerIP:
		return "conns_per_ip"
	}
	l.open++
	l.perIP[ip]++
	return ""
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func (l *limitListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// hostOf is the IP of a "host:port" address (the address itself if it has no port).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
