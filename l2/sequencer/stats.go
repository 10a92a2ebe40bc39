package sequencer

import (
	"errors"
	"maps"
	"sync"
	"sync/atomic"
)

// Stats are the sequencer's transaction counters since New and its mempool size, read by the
// daemon's metrics.
type Stats struct {
	Admitted uint64            // sends acknowledged (durable, or the same bytes again)
	Rejected map[string]uint64 // sends refused, by the error's reason (other: a cancelled wait)
	Mempool  int               // pending transactions
	// SnapshotFailures counts snapshot writes that failed (each is retried; see snapshotter).
	SnapshotFailures uint64
}

// counters counts the outcome of every SendTransaction.
type counters struct {
	admitted atomic.Uint64
	mu       sync.Mutex
	rejected map[string]uint64 // keys are the fixed reasons of errors.go
}

func (c *counters) count(err error) {
	if err == nil {
		c.admitted.Add(1)
		return
	}
	reason := "other"
	if e := (*Error)(nil); errors.As(err, &e) {
		reason = e.Reason
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rejected == nil {
		c.rejected = map[string]uint64{}
	}
	c.rejected[reason]++
}

// Stats returns the counters and the mempool size now.
func (s *Sequencer) Stats() Stats {
	s.stats.mu.Lock()
	rejected := maps.Clone(s.stats.rejected)
	s.stats.mu.Unlock()
	return Stats{Admitted: s.stats.admitted.Load(), Rejected: rejected, Mempool: s.txs.len(), SnapshotFailures: s.snaps.failures.Load()}
}
