package sequencer

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/pqbridge/pqbridge/internal/pebbleguard"
)

// health is whether the sequencer may still acknowledge transactions and build blocks. Two
// things end that, and both are kept (the first cause wins) for Err and readiness:
//
//   - a halt: block production hit an error that says the state cannot go on as it is (the
//     native core refused a block, a deposit could not be placed). The process stays up, not
//     ready, refusing sends, for an operator to look at: a restart would replay the same inputs.
//   - a storage fault: a write to the data dir failed (full, read-only, failing syncs). The
//     database cannot take writes any more in this process, so Failed is closed too and the
//     daemon exits for its supervisor to restart it on the same data dir, which recovers every
//     acknowledged transaction once the disk takes writes again.
type health struct {
	log    *slog.Logger
	mu     sync.Mutex
	err    error         // the first cause; nil while healthy
	failed chan struct{} // closed on a storage fault
}

func newHealth(log *slog.Logger) *health { return &health{log: log, failed: make(chan struct{})} }

// stop records cause if it is the first. The one log line: pebbleguard has
// logged the faults it raised (pebble's message names the cause), this logs the rest.
func (h *health) stop(cause error, storage bool) {
	h.mu.Lock()
	first := h.err == nil
	if first {
		h.err = cause
		if storage {
			close(h.failed)
		}
	}
	h.mu.Unlock()
	if !first {
		return
	}
	switch {
	case storage && errors.Is(cause, pebbleguard.ErrFault):
	case storage:
		h.log.Error("storage fault: refusing transactions until restarted", "err", cause)
	default:
		h.log.Error("block production halted", "err", cause)
	}
}

// Err returns why the sequencer stopped, or nil while it is healthy.
func (h *health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}
