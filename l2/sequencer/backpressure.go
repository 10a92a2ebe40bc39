package sequencer

import "time"

// CodeOverloaded refuses a send while settlement lags (docs/sequencer.md, Backpressure): the
// transaction was not admitted; its data carries "retry_after_ms".
const CodeOverloaded = -32024

// Defaults of BackpressureConfig fields left zero.
const (
	DefaultMaxSettlementLag = 16384 // transactions acknowledged and not yet in a batch posted to L1
	DefaultMinDepositSlack  = 8     // L1 blocks left before the oldest unconsumed deposit's deadline
	DefaultRetryAfter       = time.Second
)

// BackpressureConfig bounds what admission lets in ahead of settlement. Admission refuses new
// transfers and withdrawals with CodeOverloaded while either bound is passed, and resumes by
// itself once the lag falls: deposits, which L1 forces, are never held back.
type BackpressureConfig struct {
	// MaxSettlementLag: refuse while more transactions than this are acknowledged (mempool and
	// blocks) but not yet in a batch posted to L1.
	MaxSettlementLag uint64
	// MinDepositSlack: refuse while the oldest deposit L1 holds unconsumed is this close (in L1
	// blocks) to its forced-inclusion deadline.
	MinDepositSlack uint64
	// RetryAfter is the hint an overloaded refusal gives.
	RetryAfter time.Duration
	// Off disables backpressure (benchmarks of admission alone).
	Off bool
}

func (c *BackpressureConfig) defaults() {
	if c.MaxSettlementLag == 0 {
		c.MaxSettlementLag = DefaultMaxSettlementLag
	}
	if c.MinDepositSlack == 0 {
		c.MinDepositSlack = DefaultMinDepositSlack
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
}

// Lag is how far settlement is behind the sequencer, as the settlement engine last saw it.
type Lag struct {
	// Unposted is the number of transactions of the sequencer's blocks not yet in a batch
	// posted to L1 (read, built or waiting); Unfinal those not yet final on L1.
	Unposted, Unfinal uint64
	// L1Height is L1's height; DepositDeadline is the L1 height at which L1 refuses a batch that
	// leaves its oldest unconsumed deposit unconsumed (valid when HasDeposit).
	L1Height, DepositDeadline uint64
	HasDeposit                bool
}

// LagSource reports the settlement lag (*settlement.Engine). Lag must not block.
type LagSource interface{ Lag() Lag }

// SetLagSource attaches what admission reads the settlement lag from (nil: no backpressure).
func (s *Sequencer) SetLagSource(src LagSource) { s.lag.set(src) }

// Backpressure is the lag admission last looked at, in transactions including the mempool, and
// the refusals so far.
type Backpressure struct {
	Lag       Lag
	Pending   uint64 // Lag.Unposted plus the mempool
	Throttled uint64
}

// Backpressure reports the settlement lag as admission sees it.
func (s *Sequencer) Backpressure() Backpressure {
	var b Backpressure
	if src, ok := s.lag.get(); ok {
		b.Lag = src.Lag()
	}
	b.Pending = b.Lag.Unposted + uint64(s.txs.len())
	b.Throttled = s.throttled.Load()
	return b
}

// overloaded is admission's backpressure check: a CodeOverloaded error while settlement lags.
func (s *Sequencer) overloaded() *Error {
	c := &s.cfg.Backpressure
	src, ok := s.lag.get()
	if c.Off || !ok {
		return nil
	}
	l := src.Lag()
	var e *Error
	if pending := l.Unposted + uint64(s.txs.len()); pending > c.MaxSettlementLag {
		e = newError(CodeOverloaded, "overloaded", "settlement lags: %d transactions not yet posted to L1 (limit %d); retry in %s",
			pending, c.MaxSettlementLag, c.RetryAfter)
	} else if l.HasDeposit && l.L1Height+c.MinDepositSlack >= l.DepositDeadline {
		e = newError(CodeOverloaded, "overloaded", "L1 deposit due at L1 height %d, now %d (slack limit %d blocks); retry in %s",
			l.DepositDeadline, l.L1Height, c.MinDepositSlack, c.RetryAfter)
	}
	if e != nil {
		e.RetryAfter = c.RetryAfter
		s.throttled.Add(1)
	}
	return e
}
