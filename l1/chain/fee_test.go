package chain

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l2"
)

var testFees = Fees{Base: 100, PerByte: 2, BatchPerKiB: 50}

// newFeeHarness is a harness whose genesis charges testFees.
func newFeeHarness(t *testing.T, nUsers int) *harness {
	t.Helper()
	h := newHarness(t, nUsers)
	h.fees = testFees
	h.db = openMem(t)
	h.c = h.open(h.db)
	return h
}

// feeOf is the fee raw pays under the harness's fees.
func (h *harness) feeOf(raw []byte) uint64 {
	h.t.Helper()
	tx, err := DecodeTx(raw, testChainID)
	if err != nil {
		h.t.Fatal(err)
	}
	fee, err := h.c.Fees().TxFee(tx)
	if err != nil {
		h.t.Fatal(err)
	}
	return fee
}

func (h *harness) burned() uint64 {
	h.t.Helper()
	g, err := h.c.Global()
	if err != nil {
		h.t.Fatal(err)
	}
	return g.Burned
}

// TestFeesAndBondsFees: every included transaction pays base + per byte (+ per KiB of batch
// data) from its sender, applied or failed, and the fee is burned; a sender that cannot pay
// leaves the state untouched; the supply and escrow invariants hold throughout.
func TestFeesAndBondsFees(t *testing.T) {
	h := newFeeHarness(t, 3)
	alice, bob, seq := h.users[0], h.users[1], h.users[2]
	if got := h.c.Fees(); got != testFees {
		t.Fatalf("chain fees %+v, genesis %+v", got, testFees)
	}

	// An applied transfer: the amount moves, the fee is burned.
	raw := h.tx(alice, TxTransfer, &Transfer{To: bob.Address(), Amount: 500})
	fee := h.feeOf(raw)
	if want := testFees.Base + testFees.PerByte*uint64(len(raw)); fee != want || fee < 5000 {
		t.Fatalf("transfer fee %d, want %d (base + per byte of %d bytes)", fee, want, len(raw))
	}
	h.mustOK(raw)
	if a, b := h.balance(alice.Address()), h.balance(bob.Address()); a != userFunds-500-fee || b != userFunds+500 {
		t.Fatalf("balances after a transfer: alice %d, bob %d; fee %d", a, b, fee)
	}
	if got := h.burned(); got != fee {
		t.Fatalf("burned %d, want the fee %d", got, fee)
	}
	h.checkSupply()

	// A transfer that fails in execution still pays its fee and consumes its nonce.
	before := h.balance(alice.Address())
	raw = h.tx(alice, TxTransfer, &Transfer{To: bob.Address(), Amount: before})
	fee2 := h.feeOf(raw)
	h.mustFail(raw, ErrInsufficientFunds)
	acct, err := h.c.Account(alice.Address())
	if err != nil || acct.Balance != before-fee2 || acct.Nonce != 2 {
		t.Fatalf("after a failed transfer: %+v %v, want balance %d nonce 2", acct, err, before-fee2)
	}
	if got := h.burned(); got != fee+fee2 {
		t.Fatalf("burned %d, want %d", got, fee+fee2)
	}
	h.checkSupply()

	// An unfunded sender cannot pay: the transaction fails and changes nothing.
	poor := seededKey(t, 99)
	root := h.stateRoot()
	r := h.block(h.tx(poor, TxTransfer, &Transfer{To: bob.Address(), Amount: 0}))
	if !errors.Is(r.Errs[0], ErrInsufficientFunds) || r.Header.StateRoot != root {
		t.Fatalf("unfunded sender: %v, state root %s -> %s", r.Errs[0], root, r.Header.StateRoot)
	}
	if acct, err := h.c.Account(poor.Address()); err != nil || acct != (Account{}) {
		t.Fatalf("unfunded sender's account %+v %v", acct, err)
	}

	// Rollup operations pay the same way; a batch pays per KiB of its data frame and trace.
	s := h.register(seq, testConfig(h, seq, 7, nil, 0))
	pk := l2Key(t, 1).Public()
	dep := h.tx(bob, TxDeposit, depositPayload(s.id, pk, 300))
	bobBefore, burned := h.balance(bob.Address()), h.burned()
	h.mustOK(dep)
	if got := h.balance(bob.Address()); got != bobBefore-300-h.feeOf(dep) {
		t.Fatalf("bob paid %d for a deposit of 300, fee %d", bobBefore-got, h.feeOf(dep))
	}
	if h.rollup(s.id).Escrow != 300 {
		t.Fatalf("escrow %d", h.rollup(s.id).Escrow)
	}
	p, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{s.depositTx(t, h, 0, 0)})
	sub := h.tx(seq, TxSubmitBatch, p)
	subFee := h.feeOf(sub)
	want, err := testFees.Fee(len(sub), len(p.Data)+32*len(p.Trace))
	if err != nil || subFee != want || subFee < testFees.Base+testFees.PerByte*uint64(len(sub))+testFees.BatchPerKiB {
		t.Fatalf("batch fee %d, want %d (%v)", subFee, want, err)
	}
	seqBefore := h.balance(seq.Address())
	h.mustOK(sub)
	if got := h.balance(seq.Address()); got != seqBefore-subFee-s.cfg.SequencerBond {
		t.Fatalf("sequencer paid %d, want fee %d + bond %d", seqBefore-got, subFee, s.cfg.SequencerBond)
	}
	if got := h.burned(); got != burned+h.feeOf(dep)+subFee {
		t.Fatalf("burned %d, want %d", got, burned+h.feeOf(dep)+subFee)
	}
	h.checkSupply()

	// The fees are part of the genesis: reopening with other fees is refused.
	h.fees = Fees{Base: 1}
	if _, err := Open(h.db, Config{Genesis: h.genesis()}); err == nil {
		t.Fatal("reopened a chain with other fees")
	}
	h.fees = testFees
	if c, err := Open(h.db, Config{Genesis: h.genesis()}); err != nil || c.Fees() != testFees {
		t.Fatalf("reopen: %v", err)
	}
}

// TestFeesAndBondsSupplyInvariant: a block that mints or loses value is fatal; a burn that
// matches a debit is not.
func TestFeesAndBondsSupplyInvariant(t *testing.T) {
	h := newFeeHarness(t, 1)
	a := h.users[0].Address()
	x := &executor{c: h.c, o: newOverlay(h.db), height: 1}
	if err := x.debit(a, 10); err != nil {
		t.Fatal(err)
	}
	if err := x.burn(10); err != nil {
		t.Fatal(err)
	}
	x.commitTx()
	if err := x.checkSupply(); err != nil {
		t.Fatalf("a debit burned: %v", err)
	}
	if err := x.credit(common.Address{1}, 1); err != nil {
		t.Fatal(err)
	}
	x.commitTx()
	if err := x.checkSupply(); !errors.Is(err, ErrSupplyInvariant) || !errors.Is(err, errFatal) {
		t.Fatalf("a minted unit: %v", err)
	}
	if _, err := (Fees{PerByte: 1 << 63}).Fee(2, 0); !errors.Is(err, ErrOverflow) {
		t.Fatalf("overflowing fee: %v", err)
	}
}

func (h *harness) stateRoot() common.Hash {
	_, _, _, root := h.c.Head()
	return root
}
