package sequencer

// SettlementStatus is where L2 blocks stand on L1, for rollup_getStatus: *settlement.Engine.
type SettlementStatus interface {
	// BlockStatus is "soft", "committed" or "final" for block n.
	BlockStatus(n uint64) string
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

// blockSettlement is block n's settlement status: "soft" without an engine.
func (s *Sequencer) blockSettlement(n uint64) string {
	if b := s.settlement.Load(); b != nil {
		return b.s.BlockStatus(n)
	}
	return "soft"
}
