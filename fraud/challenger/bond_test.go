package challenger_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
)

// TestFeesAndBondsChallengeBondChallenger: on a rollup with a challenge bond, a challenger whose
// key cannot pay it is not ready and signs nothing (its balance unchanged); a funded challenger
// counts the bond of a rejected challenge sent from its key as burned, and the upheld one gets
// its bond back with the reward.
func TestFeesAndBondsChallengeBondChallenger(t *testing.T) {
	const cbond = 700
	w := newWorldWith(t, 2, fraud.Judge{}, cbond)
	poorKey := l1Key(9) // not in the genesis
	w.send(w.user, chain.TxTransfer, &chain.Transfer{To: poorKey.Address(), Amount: cbond - 1})
	w.deposit(0, 1000)
	w.deposit(1, 1000)
	w.blockOK()
	rich, poor := w.challenger(challenger.ExecutorCore, 3, ""), w.challenger(challenger.ExecutorCore, 9, "")
	if st := poor.Status(); st.BondShort != 1 {
		t.Fatalf("poor challenger: bond short %d, want 1", st.BondShort)
	}
	if err := poor.Ready(); err == nil {
		t.Fatal("a challenger that cannot pay the bond is ready")
	}
	if err := rich.Ready(); err != nil {
		t.Fatalf("funded challenger not ready: %v", err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	w.post(w.next(rng, func(*l2.State) (l2.Tx, bool) { return l2.Tx{}, false })) // the deposits
	w.blockOK()
	for _, ch := range []*challenger.Challenger{rich, poor} {
		if err := ch.Step(w.ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A junk challenge from the funded challenger's key: L1 rejects it and burns the bond.
	richAddr := l1Key(3).Address()
	before := w.balance(richAddr)
	w.send(l1Key(3), chain.TxChallenge, &chain.Challenge{RollupID: rollupID, Batch: 1, Proof: []byte{0xc0}})
	if r := w.block(); !errors.Is(r.Errs[0], chain.ErrFraudNotProven) {
		t.Fatalf("junk challenge: %v", r.Errs[0])
	}
	if got := w.balance(richAddr); got != before-cbond {
		t.Fatalf("junk challenge: balance %d -> %d, want the bond %d burned", before, got, cbond)
	}
	if err := rich.Step(w.ctx); err != nil {
		t.Fatal(err)
	}
	if st := rich.Status(); st.BondsLost != 1 || st.BondBurned != cbond || st.BondShort != 0 {
		t.Fatalf("after a rejected challenge: %+v", st)
	}

	// A fraudulent batch: the poor challenger cannot pay and sends nothing; the funded one does.
	accounts := w.state.Accounts()
	bad := w.lie([]l2.Tx{w.transfer(accounts[0].Index, accounts[1].Index, 5)}, l2.ApplyOptions{ChainID: l2ChainID})
	bad.c.NewRoot = elem(7)
	w.post(bad)
	w.blockOK()
	if err := poor.Step(w.ctx); !errors.Is(err, challenger.ErrBondUnpaid) {
		t.Fatalf("poor challenger: %v, want %v", err, challenger.ErrBondUnpaid)
	}
	if st := poor.Status(); st.Challenges != 0 || st.BondShort != 1 {
		t.Fatalf("poor challenger: %+v", st)
	}
	if err := rich.Step(w.ctx); err != nil {
		t.Fatal(err)
	}
	before = w.balance(richAddr)
	r := w.blockOK()
	upheld := false
	for _, e := range r.Events {
		upheld = upheld || e.Kind == chain.EventChallengeUpheld && e.Address == richAddr
	}
	if !upheld {
		t.Fatalf("no upheld challenge: %+v", r.Events)
	}
	if got := w.balance(richAddr); got != before+bond/2 {
		t.Fatalf("upheld: balance %d -> %d, want +%d (bond back, half the sequencer's as reward)", before, got, bond/2)
	}
	if got := w.balance(poorKey.Address()); got != cbond-1 {
		t.Fatalf("poor challenger's balance %d, want %d", got, cbond-1)
	}
	if err := rich.Step(w.ctx); err != nil {
		t.Fatal(err)
	}
	if st := rich.Status(); st.Upheld != 1 || st.Rewards != bond/2 || st.BondReturned != cbond || st.BondsLost != 1 {
		t.Fatalf("after the upheld challenge: %+v", st)
	}
	if ro := w.rollup(); ro.Escrow != ro.Deposited-ro.Paid {
		t.Fatalf("escrow %d, deposited %d, paid %d", ro.Escrow, ro.Deposited, ro.Paid)
	}
}
