package chain

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l2"
)

// figures are the reserve figures a step of TestReserves expects.
type figures struct{ escrow, unconsumed, supply, unclaimed, delayed, headSupply uint64 }

func (h *harness) reserves(id uint64, step string, want figures) {
	h.t.Helper()
	v, err := h.c.Reserves(id)
	if err != nil {
		h.t.Fatalf("%s: %v", step, err)
	}
	got := figures{v.Escrow, v.Unconsumed, v.Supply, v.Unclaimed, v.Delayed, v.HeadSupply}
	if got != want || !v.Holds || !v.On || v.Escrow != v.Unconsumed+v.Supply+v.Unclaimed+v.Delayed {
		h.t.Fatalf("%s: reserves %+v (holds %v: %s); want %+v", step, got, v.Holds, v.Derivation, want)
	}
}

func transferTx(t *testing.T, k *l2.PrivateKey, chainID uint64, from, to uint32, nonce, amount uint64) l2.Tx {
	t.Helper()
	tx := l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: nonce}
	if err := l2.SignTx(k, chainID, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// exodusOf is the exodus withdrawal of account index's whole balance at the L2 side's state.
func exodusOf(t *testing.T, s *l2Side, k *l2.PrivateKey, index uint32, dest common.Address) (*ExodusWithdrawal, uint64) {
	t.Helper()
	acct, _ := s.state.Account(index)
	wit, _ := s.state.Witness(index)
	msg := ExodusMessage(index, acct.Balance, dest)
	if err := l2.SignTx(k, s.cfg.L2ChainID, &msg); err != nil {
		t.Fatal(err)
	}
	var sibs [][32]byte
	for _, w := range wit {
		sibs = append(sibs, w.Bytes())
	}
	pk := k.Public()
	return &ExodusWithdrawal{RollupID: s.id, Index: index, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes(), Balance: acct.Balance,
		L2Nonce: acct.Nonce, Siblings: sibs, Recipient: dest, SigRX: msg.Sig.RX.Bytes(), SigRY: msg.Sig.RY.Bytes(), SigS: msg.Sig.S.Bytes()}, acct.Balance
}

// TestReserves: escrow = unconsumed deposits + L2 supply at the last final root + unclaimed
// withdrawals + the delay queue, with each figure's value asserted across deposits, a transfer,
// withdrawals (pending, then final), claims paid at once and delayed then released, a fraud revert
// (the reverted batch's amounts leave the head figures), a forged batch withdrawing more than L2
// holds (refused with ErrReserves), and exodus (payouts and a refund); L1 checks it after every
// block (a break is fatal: TestReservesInvariantIsFatal).
func TestReserves(t *testing.T) {
	h := newHarness(t, 3)
	seq, user, other := h.users[0], h.users[1], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.Governor = GovernorConfig{WindowBlocks: 1000, LargeWithdrawal: 3000, DelayBlocks: 4}
	s, k := setupFunded(t, h, cfg) // 10,000 deposited into account 1 by validity batch 1, final
	h.reserves(s.id, "deposit consumed by a final batch", figures{10_000, 0, 10_000, 0, 0, 10_000})

	k2 := l2Key(t, 2)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)))
	h.reserves(s.id, "deposit queued", figures{10_500, 500, 10_000, 0, 0, 10_000})

	dest := common.Address{0xd5}
	p, res := s.batch(t, h, ModeOptimistic, []l2.Tx{s.depositTx(t, h, 1, 2), transferTx(t, k, 7, 1, 2, 0, 1000),
		withdrawTx(t, k, 7, 1, 1, 3000, dest), withdrawTx(t, k, 7, 1, 2, 100, dest)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	// Pending: the final figures stay; the head supply has the batch.
	h.reserves(s.id, "optimistic batch pending", figures{10_500, 500, 10_000, 0, 0, 10_500 - 3100})
	for h.rollup(s.id).FinalNumber < 2 {
		h.mustOK()
	}
	h.reserves(s.id, "batch final", figures{10_500, 0, 7400, 3100, 0, 7400})

	for i, amount := range []uint64{3000, 100} { // 3,000 is large: the governor delays it
		h.mustOK(h.tx(other, TxClaimWithdrawal, &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: uint64(2 + i),
			Address: dest, Amount: amount, Siblings: ListWitness(res.WithdrawalLeaves, 2+i)}))
	}
	h.reserves(s.id, "claims: one paid, one delayed", figures{10_400, 0, 7400, 0, 3000, 7400})
	st, err := h.c.Withdrawal(s.id, 2, 2)
	if err != nil || !st.Delayed {
		t.Fatalf("the 3,000 claim: %+v, %v; want delayed", st, err)
	}
	h.advance(4)
	h.mustOK(h.tx(other, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: st.DelayedID}))
	h.reserves(s.id, "delayed claim released", figures{7400, 0, 7400, 0, 0, 7400})

	good := s.snapshot()
	p3, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{withdrawTx(t, k2, 7, 2, 0, 200, dest)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p3))
	h.reserves(s.id, "withdrawal pending", figures{7400, 0, 7400, 0, 0, 7200})
	h.mustOK(h.tx(other, TxChallenge, &Challenge{RollupID: s.id, Batch: 3, Proof: []byte("fraud")}))
	h.reserves(s.id, "fraud revert", figures{7400, 0, 7400, 0, 0, 7400})
	s = good

	// A forged batch: account 1 holds 5,900 and L2 7,400; it withdraws 8,000.
	forged := s.snapshot()
	forged.faulty = true
	pf, _ := forged.batch(t, h, ModeOptimistic, []l2.Tx{withdrawTx(t, k, 7, 1, 3, 8000, dest)})
	r := h.block(h.tx(seq, TxSubmitBatch, pf))
	if !errors.Is(r.Errs[0], ErrReserves) || !strings.Contains(r.Errs[0].Error(), "withdrawals of 8000, L2 holds 7400") {
		t.Fatalf("forged batch: %v; want %v naming the amounts", r.Errs[0], ErrReserves)
	}
	if rr := h.rollup(s.id); rr.HeadNumber != 2 {
		t.Fatalf("forged batch accepted: head %d", rr.HeadNumber)
	}
	h.reserves(s.id, "forged batch refused", figures{7400, 0, 7400, 0, 0, 7400})

	// Exodus: a deposit no batch consumes, the freeze, both accounts out, the deposit refunded.
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k.Public(), 77)))
	h.reserves(s.id, "deposit before the freeze", figures{7477, 77, 7400, 0, 0, 7400})
	for !h.rollup(s.id).Frozen {
		h.mustOK()
	}
	ex1, b1 := exodusOf(t, s, k, 1, common.Address{0xe1})
	ex2, b2 := exodusOf(t, s, k2, 2, common.Address{0xe2})
	if b1 != 5900 || b2 != 1500 {
		t.Fatalf("L2 balances %d and %d; want 5900 and 1500", b1, b2)
	}
	h.mustOK(h.tx(other, TxExodusWithdrawal, ex1))
	h.reserves(s.id, "exodus of account 1", figures{1577, 77, 1500, 0, 0, 7400})
	h.mustOK(h.tx(other, TxExodusWithdrawal, ex2))
	h.reserves(s.id, "exodus of account 2", figures{77, 77, 0, 0, 0, 7400})
	h.mustOK(h.tx(other, TxExodusRefund, &ExodusRefund{RollupID: s.id, Index: 2}))
	h.reserves(s.id, "exodus refund", figures{0, 0, 0, 0, 0, 7400})
	v, err := h.c.Reserves(s.id)
	if err != nil || v.Totals.ExodusPaid != 7400 || v.Totals.ExodusRefunded != 77 || v.Totals.Claimed != 3100 ||
		v.Totals.FinalDeposits != 10_500 || v.Totals.FinalWithdrawn != 3100 || !strings.Contains(v.Derivation, "escrow 0 = ") {
		t.Fatalf("totals %+v, %v (%s)", v.Totals, err, v.Derivation)
	}
	h.checkSupply(dest, common.Address{0xe1}, common.Address{0xe2})
}

// TestReservesInvariantIsFatal: a rollup record whose figures do not add up to its escrow (a
// claim counted twice) stops the chain after the block, naming the equation; a rollup stored
// before reserves were tracked decodes with tracking off and is not checked.
func TestReservesInvariantIsFatal(t *testing.T) {
	h := newHarness(t, 2)
	s, _ := setupFunded(t, h, testConfig(h, h.users[0], 7, nil, 0))
	r := h.rollup(s.id)
	old := *r
	old.Res = ReserveTotals{}
	enc, err := rlp.EncodeToBytes(&old)
	if err != nil {
		t.Fatal(err)
	}
	var dec Rollup
	if err := rlp.DecodeBytes(enc, &dec); err != nil || dec.Res.On || dec.Escrow != r.Escrow {
		t.Fatalf("a record without reserve totals: %+v, %v", dec.Res, err)
	}
	if v, err := dec.Reserves(); err != nil || v.On || !strings.Contains(v.Derivation, "not tracked") {
		t.Fatalf("untracked rollup: %+v, %v", v, err)
	}
	var b BatchRecord
	if err := rlp.DecodeBytes(mustRLP(t, &BatchRecord{Number: 1}), &b); err != nil || b.DepositAmount != 0 {
		t.Fatalf("batch record without amounts: %+v, %v", b, err)
	}
	r.Res.Claimed += 5
	h.putRollup(r)
	_, err = h.c.Execute(0, nil)
	if !errors.Is(err, ErrReservesInvariant) || !strings.Contains(err.Error(), "unclaimed withdrawals negative") {
		t.Fatalf("got %v, want the reserves invariant violation", err)
	}
}

func mustRLP(t *testing.T, v any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putRollup stores r as it is, behind the executor's back (fault injection of a corrupt record).
func (h *harness) putRollup(r *Rollup) {
	h.t.Helper()
	if err := h.db.Set([]byte(keyRollup(r.ID)), mustRLP(h.t.(*testing.T), r), pebble.Sync); err != nil {
		h.t.Fatal(err)
	}
}
