package rpcguard

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxTrackedIPs bounds the per-IP token buckets kept; past it, buckets idle for a minute are
// dropped (a full one is the same as a new one) and, if none is, new IPs share one bucket.
const maxTrackedIPs = 8192

// ipLimiter holds one token bucket per source IP.
type ipLimiter struct {
	rate   rate.Limit
	burst  int
	mu     sync.Mutex
	byIP   map[string]*bucket
	shared *rate.Limiter
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newIPLimiter(r float64, burst int) *ipLimiter {
	if r <= 0 {
		return nil
	}
	return &ipLimiter{rate: rate.Limit(r), burst: burst, byIP: map[string]*bucket{}, shared: rate.NewLimiter(rate.Limit(r), burst)}
}

func (l *ipLimiter) get(ip string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if b, ok := l.byIP[ip]; ok {
		b.used = now
		return b.lim
	}
	if len(l.byIP) >= maxTrackedIPs {
		for k, b := range l.byIP {
			if now.Sub(b.used) > time.Minute {
				delete(l.byIP, k)
			}
		}
		if len(l.byIP) >= maxTrackedIPs {
			return l.shared
		}
	}
	b := &bucket{lim: rate.NewLimiter(l.rate, l.burst), used: now}
	l.byIP[ip] = b
	return b.lim
}

// allow takes a token for ip now, or reports that there is none (nil l: no limit).
func (l *ipLimiter) allow(ip string) bool {
	return l == nil || l.get(ip).Allow()
}

// wait takes a token for ip, waiting for one until done is closed (a WebSocket reader slowed
// down, not refused). It reports whether it had to wait.
func (l *ipLimiter) wait(done <-chan struct{}, ip string) (bool, error) {
	if l == nil {
		return false, nil
	}
	lim := l.get(ip)
	if lim.Allow() {
		return false, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return true, lim.Wait(ctx)
}
