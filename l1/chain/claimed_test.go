package chain

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l2"
)

// TestClaimedQuery: Claimed is false for a withdrawal of a final batch until its claim is in a
// block, stays false after a refused claim, is true after the claim, and names ErrNotFound for
// a batch or list entry L1 does not hold.
func TestClaimedQuery(t *testing.T) {
	h := newHarness(t, 3)
	seq, claimer := h.users[0], h.users[2]
	s, k := setupFunded(t, h, testConfig(h, seq, 7, nil, 0))
	dest := common.Address{0xd2}
	p, res := s.batch(t, h, ModeValidity, []l2.Tx{{}, withdrawTx(t, k, 7, 1, 0, 300, dest)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))

	claimed := func(batch, index uint64, want bool) {
		t.Helper()
		got, err := h.c.Claimed(s.id, batch, index)
		if err != nil || got != want {
			t.Fatalf("Claimed(%d, %d, %d) = %v, %v; want %v", s.id, batch, index, got, err, want)
		}
	}
	claimed(2, 1, false)
	claim := &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: 1, Address: dest, Amount: 300, Siblings: ListWitness(res.WithdrawalLeaves, 1)}
	wrong := *claim
	wrong.Amount = 301
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, &wrong), ErrBadMerkleProof)
	claimed(2, 1, false) // a refused claim marks nothing
	h.mustOK(h.tx(claimer, TxClaimWithdrawal, claim))
	claimed(2, 1, true)
	claimed(2, 0, false) // entry 0 is no withdrawal: never claimed
	claimed(1, 0, false)

	for _, tc := range []struct {
		rollup, batch, index uint64
		text                 string
	}{
		{s.id, 3, 0, `not found: "s/batch/`},
		{s.id + 1, 1, 0, `not found: "s/batch/`},
		{s.id, 2, 2, "not found: withdrawal 2 of batch 2 of rollup 1, which has 2 transactions"},
		{s.id, 2, l2.MaxBatchTxs, "not found: withdrawal 4096 of batch 2 of rollup 1, which has 2 transactions"},
	} {
		got, err := h.c.Claimed(tc.rollup, tc.batch, tc.index)
		if !errors.Is(err, ErrNotFound) || got || !strings.HasPrefix(err.Error(), tc.text) {
			t.Fatalf("Claimed(%d, %d, %d) = %v, %v; want ErrNotFound starting %q", tc.rollup, tc.batch, tc.index, got, err, tc.text)
		}
	}
}
