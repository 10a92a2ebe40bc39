package sequencer

import "sync/atomic"

// SettlementStatus is where L2 blocks stand on L1, for rollup_getStatus: *settlement.Engine.
type SettlementStatus interface {
	// BlockSettlement is block n's settlement status and the batches holding it.
	BlockSettlement(n uint64) BlockSettlement
}

// BlockSettlement is where one L2 block stands on L1.
type BlockSettlement struct {
	// Status is "soft", "committed" (every batch holding the block accepted by L1) or "final"
	// (every one final).
	Status string
	// FirstBatch and LastBatch are the L1 batches holding the block once it is committed or
	// final (0 while soft). A batch may end inside a block, so a block may be in more than one.
	FirstBatch, LastBatch uint64
}

// attached holds an interface the settlement engine provides, set after the sequencer is built
// (the engine reads its blocks) and read without a lock: an atomic.Pointer cannot hold an
// interface itself.
type attached[T any] struct{ p atomic.Pointer[T] }

// set stores v, or detaches when v is a nil interface.
func (a *attached[T]) set(v T) {
	if any(v) == nil {
		a.p.Store(nil)
		return
	}
	a.p.Store(&v)
}

// get returns the attached value and whether there is one.
func (a *attached[T]) get() (T, bool) {
	if v := a.p.Load(); v != nil {
		return *v, true
	}
	var zero T
	return zero, false
}

// SetSettlement attaches the settlement engine that rollup_getStatus asks (nil detaches it). It
// is a setter, not a Config field, because the engine reads the sequencer's blocks and so is
// built after it.
func (s *Sequencer) SetSettlement(st SettlementStatus) { s.settlement.set(st) }

// blockSettlement is block n's settlement: "soft" without an engine.
func (s *Sequencer) blockSettlement(n uint64) BlockSettlement {
	if st, ok := s.settlement.get(); ok {
		return st.BlockSettlement(n)
	}
	return BlockSettlement{Status: "soft"}
}
