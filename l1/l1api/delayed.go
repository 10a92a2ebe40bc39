package l1api

import "github.com/ethereum/go-ethereum/common"

// WithdrawalStatus is where a withdrawal of a batch's list stands on L1: unclaimed, paid at once
// by its claim, or queued by the governor (Delayed) and then paid by a ReleaseDelayed.
type WithdrawalStatus struct {
	Claimed    bool // a claim was accepted: paid at once, or queued when Delayed
	Delayed    bool // the claim was queued in the governor's delay queue
	DelayedID  uint64
	ReleaseAt  uint64 // first height at which a ReleaseDelayed may pay it
	Reason     string // why the governor delayed it: large, window cap, anomaly
	Released   bool   // a ReleaseDelayed paid it, at height ReleasedAt
	ReleasedAt uint64
	Amount     uint64
	Recipient  common.Address
}

// Paid reports whether funds moved: claimed and not waiting in the delay queue.
func (s *WithdrawalStatus) Paid() bool { return s.Claimed && (!s.Delayed || s.Released) }
