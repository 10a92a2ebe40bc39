package sequencer

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

// settlementBox lets an interface live in an atomic.Pointer.
type settlementBox struct{ s SettlementStatus }

// SetSettlement attaches the settlement engine that rollup_getStatus asks (nil detaches it). It
// is a setter, not a Config field, because the engine reads the sequencer's blocks and so is
// built after it.
func (s *Sequencer) SetSettlement(st SettlementStatus) {
	if st == nil {
		s.settlement.Store(nil)
		return
	}
	s.settlement.Store(&settlementBox{st})
}

// blockSettlement is block n's settlement: "soft" without an engine.
func (s *Sequencer) blockSettlement(n uint64) BlockSettlement {
	if b := s.settlement.Load(); b != nil {
		return b.s.BlockSettlement(n)
	}
	return BlockSettlement{Status: "soft"}
}
