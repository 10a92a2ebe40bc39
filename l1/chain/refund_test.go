package chain

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l2"
)

// refundTx is the L2 refund of queue entry j to its depositor.
func (s *l2Side) refundTx(t *testing.T, h *harness, j uint64) l2.Tx {
	t.Helper()
	tx := s.depositTx(t, h, j, 0)
	d, err := h.c.Deposit(s.id, j)
	if err != nil {
		t.Fatal(err)
	}
	tx.Type, tx.From, tx.Address = l2.TxRefund, 0, d.Depositor
	return tx
}

// TestRefundBatch: on a full depth-2 tree, refunds consume the next queue entries like deposits
// and must pay each entry's depositor (docs/protocol.md §7.6, docs/l1.md §5): out of order,
// skipping an entry or paying another address is rejected; in order they are accepted, and the
// depositor claims each refund through the withdrawal path, escrow invariant checked after every
// block.
func TestRefundBatch(t *testing.T) {
	h := newHarness(t, 3)
	seq, user, claimer := h.users[0], h.users[1], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.TreeDepth = 2
	s := h.register(seq, cfg)
	for i := range 6 {
		h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, l2Key(t, uint64(10+i)).Public(), uint64(100+i))))
	}
	p, _ := s.batch(t, h, ModeValidity, []l2.Tx{s.depositTx(t, h, 0, 0), s.depositTx(t, h, 1, 1), s.depositTx(t, h, 2, 2), s.depositTx(t, h, 3, 3)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))

	r4, r5 := s.refundTx(t, h, 4), s.refundTx(t, h, 5)
	otherPayee := r4
	otherPayee.Address = common.Address(claimer.Address())
	for name, txs := range map[string][]l2.Tx{
		"refunds out of order":     {r5, r4},
		"refund skipping an entry": {r5},
		"refund to another payee":  {otherPayee, r5},
	} {
		t.Run(name, func(t *testing.T) {
			snap := s.snapshot()
			p, _ := snap.batch(t, h, ModeValidity, txs)
			h.mustFail(h.tx(seq, TxSubmitBatch, p), ErrDepositMismatch)
		})
	}

	p, res := s.batch(t, h, ModeValidity, []l2.Tx{r4, r5})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.FinalConsumed != 6 || r.Escrow != 100+101+102+103+104+105 {
		t.Fatalf("after the refund batch: consumed %d, escrow %d", r.FinalConsumed, r.Escrow)
	}
	before := h.balance(user.Address())
	for k, tx := range []l2.Tx{r4, r5} {
		h.mustOK(h.tx(claimer, TxClaimWithdrawal, &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: uint64(k),
			Address: tx.Address, Amount: tx.Amount, Siblings: ListWitness(res.WithdrawalLeaves, k)}))
	}
	if got := h.balance(user.Address()); got != before+104+105 {
		t.Fatalf("depositor's balance %d after its refunds, want %d", got, before+104+105)
	}
	if r := h.rollup(s.id); r.Escrow != 100+101+102+103 || r.Paid != 104+105 {
		t.Fatalf("escrow %d paid %d", r.Escrow, r.Paid)
	}
}
