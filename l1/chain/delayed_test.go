package chain

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l2"
)

// TestDelayedWithdrawalStatus: a claim the governor queues is not reported paid (Claimed false,
// Withdrawal delayed until its height), the rollup counts it pending, the release pays it once and
// a second release is refused by name.
func TestDelayedWithdrawalStatus(t *testing.T) {
	h := newHarness(t, 3)
	seq, claimer := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.Governor = GovernorConfig{WindowBlocks: 1000, LargeWithdrawal: 3000, DelayBlocks: 4}
	s, k := setupFunded(t, h, cfg)
	dest := common.Address{0xd3}
	p, res := s.batch(t, h, ModeValidity, []l2.Tx{withdrawTx(t, k, 7, 1, 0, 3000, dest), withdrawTx(t, k, 7, 1, 1, 100, dest)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	for i, amount := range []uint64{3000, 100} {
		h.mustOK(h.tx(claimer, TxClaimWithdrawal, &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: uint64(i),
			Address: dest, Amount: amount, Siblings: ListWitness(res.WithdrawalLeaves, i)}))
	}
	st, err := h.c.Withdrawal(s.id, 2, 0)
	if err != nil || !st.Claimed || !st.Delayed || st.Released || st.Paid() || st.Amount != 3000 || st.Recipient != dest || st.Reason != "large" {
		t.Fatalf("queued withdrawal status %+v, %v", st, err)
	}
	releaseAt := st.ReleaseAt
	if claimed, err := h.c.Claimed(s.id, 2, 0); err != nil || claimed {
		t.Fatalf("Claimed of a queued withdrawal = %v, %v; want false (no funds moved)", claimed, err)
	}
	if st, err := h.c.Withdrawal(s.id, 2, 1); err != nil || !st.Paid() || st.Delayed {
		t.Fatalf("withdrawal paid at once: %+v, %v", st, err)
	}
	if r := h.rollup(s.id); r.DelayedPending != 1 || r.DelayedAmount != 3000 {
		t.Fatalf("pending %d amount %d, want 1 and 3000", r.DelayedPending, r.DelayedAmount)
	}
	if got := h.balance(dest); got != 100 {
		t.Fatalf("paid %d before the release, want 100", got)
	}
	h.advance(4)
	h.mustOK(h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: st.DelayedID}))
	st, err = h.c.Withdrawal(s.id, 2, 0)
	if err != nil || !st.Released || !st.Paid() || st.ReleaseAt != releaseAt || st.ReleasedAt < releaseAt {
		t.Fatalf("released withdrawal status %+v, %v", st, err)
	}
	if claimed, err := h.c.Claimed(s.id, 2, 0); err != nil || !claimed {
		t.Fatalf("Claimed after the release = %v, %v; want true", claimed, err)
	}
	r := h.block(h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: st.DelayedID}))
	if !errors.Is(r.Errs[0], ErrAlreadyReleased) || !strings.Contains(r.Errs[0].Error(), "was paid at height") {
		t.Fatalf("second release: %v, want %v naming the payment", r.Errs[0], ErrAlreadyReleased)
	}
	if got := h.balance(dest); got != 3100 {
		t.Fatalf("paid %d after two releases, want 3100 (once)", got)
	}
	if r := h.rollup(s.id); r.DelayedPending != 0 || r.DelayedAmount != 0 || r.Paid != 3100 {
		t.Fatalf("pending %d amount %d paid %d", r.DelayedPending, r.DelayedAmount, r.Paid)
	}
}
