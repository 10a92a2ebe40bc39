package chain

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

// forgeCredit makes s's state the honest one with account 2 credited one unit more, and p (the
// batch s just executed, of one transaction) claim it: a wrong-arithmetic batch.
func forgeCredit(t *testing.T, s *l2Side, p *SubmitBatch) {
	t.Helper()
	accs := s.state.Accounts()
	for i := range accs {
		if accs[i].Index == 2 {
			accs[i].Account.Balance++
		}
	}
	wrong, err := l2.NewStateFromAccounts(int(s.cfg.TreeDepth), accs)
	if err != nil {
		t.Fatal(err)
	}
	s.state = wrong
	root := wrong.Root()
	traceRoot := l2.ListRoot([]fr.Element{root})
	p.NewRoot, p.TraceRoot, p.Trace = root.Bytes(), traceRoot.Bytes(), [][32]byte{root.Bytes()}
}

// TestFraudRevertsChainSlashesOnce: 50 optimistic batches are pending on one sequencer stake;
// the 10th is fraudulent. The upheld fraud proof (the real judge) reverts the 10th through the
// 50th and slashes the stake once (half to the challenger, half burned); the supply and escrow
// invariants hold (checked after every block, and checkSupply); the sequencer stakes again
// with its honest repost, which finalizes and returns the stake.
func TestFraudRevertsChainSlashesOnce(t *testing.T) {
	const pending, bad = 50, 10
	h := newHarnessWithJudge(t, 3, fraud.Judge{})
	seq, user, challenger := h.users[0], h.users[1], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.ChallengeWindow, cfg.ExodusTimeout, cfg.ForcedInclusionWindow = 200, 400, 400
	s, k1 := setupFunded(t, h, cfg) // batch 1: validity, final
	k2 := l2Key(t, 2)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)))
	seqStart := h.balance(seq.Address())
	g0, err := h.c.Global()
	if err != nil {
		t.Fatal(err)
	}

	var honest *l2Side // the challenger's view before the bad batch
	var transfer l2.Tx
	first := s.number + 1
	badNumber := first + bad - 1
	for n := first; n < first+pending; n++ {
		var txs []l2.Tx
		switch {
		case n == first:
			txs = []l2.Tx{s.depositTx(t, h, 1, 2)}
		case n == badNumber:
			transfer = l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 100, Nonce: 0}
			if err := l2.SignTx(k1, 7, &transfer); err != nil {
				t.Fatal(err)
			}
			txs = []l2.Tx{transfer}
			honest = s.snapshot()
		default:
			txs = []l2.Tx{{}}
		}
		p, _ := s.batch(t, h, ModeOptimistic, txs)
		if n == badNumber {
			forgeCredit(t, s, p)
		}
		h.mustOK(h.tx(seq, TxSubmitBatch, p))
	}
	r := h.rollup(s.id)
	if r.HeadNumber != first+pending-1 || r.FinalNumber != first-1 {
		t.Fatalf("head %d final %d, want %d pending after %d", r.HeadNumber, r.FinalNumber, pending, first-1)
	}
	if r.Stake != cfg.SequencerBond || r.Staker != seq.Address() {
		t.Fatalf("stake %d of %s, want one stake %d of the sequencer", r.Stake, r.Staker, cfg.SequencerBond)
	}
	if g, _ := h.c.Global(); g.Bonded-g0.Bonded != cfg.SequencerBond {
		t.Fatalf("%d locked for %d pending batches, want the one stake %d", g.Bonded-g0.Bonded, pending, cfg.SequencerBond)
	}
	if got := seqStart - h.balance(seq.Address()); got < cfg.SequencerBond || got >= 2*cfg.SequencerBond {
		t.Fatalf("the sequencer paid %d for %d batches, want the stake %d once plus fees", got, pending, cfg.SequencerBond)
	}

	proof, err := challengeFrom(t, h, s, honest.state, badNumber)
	if err != nil {
		t.Fatal(err)
	}
	seqBal, chBal := h.balance(seq.Address()), h.balance(challenger.Address())
	g1, _ := h.c.Global()
	res := h.mustOK(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: badNumber, Proof: proof.Encode()}))
	r = h.rollup(s.id)
	honestRoot := honest.state.Root()
	if r.HeadNumber != badNumber-1 || r.HeadRoot != honestRoot.Bytes() || r.Stake != 0 || r.Staker != (common.Address{}) {
		t.Fatalf("after the proof: head %d stake %d of %s, want head %d and no stake", r.HeadNumber, r.Stake, r.Staker, badNumber-1)
	}
	var reverted []uint64
	upheld := 0
	for _, e := range res.Events {
		switch e.Kind {
		case EventBatchReverted:
			reverted = append(reverted, e.Number)
		case EventChallengeUpheld:
			upheld++
			if e.Amount != cfg.SequencerBond/2 || e.Number != badNumber {
				t.Fatalf("upheld event %+v, want batch %d and reward %d", e, badNumber, cfg.SequencerBond/2)
			}
		}
	}
	if upheld != 1 || len(reverted) != pending-bad+1 {
		t.Fatalf("%d upheld events, reverted %v", upheld, reverted)
	}
	for i, n := range reverted {
		if want := first + pending - 1 - uint64(i); n != want {
			t.Fatalf("reverted %v, want %d down to %d", reverted, first+pending-1, badNumber)
		}
		if _, err := h.c.Batch(s.id, n); !errors.Is(err, ErrNotFound) {
			t.Fatalf("reverted batch %d still stored: %v", n, err)
		}
	}
	if got := h.balance(challenger.Address()); got != chBal+cfg.SequencerBond/2 {
		t.Fatalf("challenger got %d, want half the stake %d", got-chBal, cfg.SequencerBond/2)
	}
	if got := h.balance(seq.Address()); got != seqBal {
		t.Fatalf("the sequencer's balance moved by %d on the slash, want 0 (its stake was locked)", int64(got)-int64(seqBal))
	}
	g2, _ := h.c.Global()
	if g1.Bonded-g2.Bonded != cfg.SequencerBond || g2.Burned-g1.Burned != cfg.SequencerBond-cfg.SequencerBond/2 {
		t.Fatalf("global %+v -> %+v, want the stake unlocked once and half of it burned", g1, g2)
	}
	h.checkSupply()

	// The honest repost stakes again, finalizes, and the stake comes back.
	p, _ := honest.batch(t, h, ModeOptimistic, []l2.Tx{transfer})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.Stake != cfg.SequencerBond || r.Staker != seq.Address() {
		t.Fatalf("repost: stake %d of %s, want a new stake", r.Stake, r.Staker)
	}
	for i := 0; h.rollup(s.id).FinalNumber < badNumber; i++ {
		if i > int(cfg.ChallengeWindow)+1 {
			t.Fatalf("batch %d not final after its window", badNumber)
		}
		h.mustOK()
	}
	r = h.rollup(s.id)
	if r.FinalRoot != p.NewRoot || r.Stake != 0 {
		t.Fatalf("final root %x stake %d, want %x and the stake released", r.FinalRoot, r.Stake, p.NewRoot)
	}
	if g3, _ := h.c.Global(); g3.Bonded != g0.Bonded {
		t.Fatalf("%d still locked with nothing pending, want %d", g3.Bonded, g0.Bonded)
	}
	h.checkSupply()
}

// TestOptimisticBatchOfMaxTxs: an optimistic batch of l2.MaxBatchTxs (4,096) transactions is
// accepted although the rollup's batch size (the circuit's) is 16, and the real judge upholds a
// fraud proof against its last step; a validity batch of more than l2.MaxChunks chunks of the batch
// size is refused.
func TestOptimisticBatchOfMaxTxs(t *testing.T) {
	h := newHarnessWithJudge(t, 3, fraud.Judge{})
	seq, challenger := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.ChallengeWindow, cfg.ExodusTimeout = 50, 100
	s, k := setupFunded(t, h, cfg)

	over := s.snapshot()
	txs := make([]l2.Tx, l2.MaxChunks*cfg.BatchSize+1)
	p, _ := over.batch(t, h, ModeValidity, txs)
	h.mustFail(h.tx(seq, TxSubmitBatch, p), ErrTxCount)

	good := s.snapshot()
	txs = make([]l2.Tx, l2.MaxBatchTxs)
	txs[l2.MaxBatchTxs-1] = withdrawTx(t, k, 7, 1, 0, 10, common.Address{9})
	p, _ = s.batch(t, h, ModeOptimistic, txs)
	// The last transaction's post-root is claimed unchanged: fraud at step 4,095.
	last := l2.MaxBatchTxs - 1
	p.Trace[last] = p.Trace[last-1]
	roots := make([]fr.Element, len(p.Trace))
	for i := range p.Trace {
		roots[i], _ = fieldElement(p.Trace[i])
	}
	tr := l2.ListRoot(roots)
	p.NewRoot, p.TraceRoot = p.Trace[last], tr.Bytes()
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.HeadNumber != 2 {
		t.Fatalf("head %d, want the 4,096-transaction batch 2", r.HeadNumber)
	}
	if b, err := h.c.Batch(s.id, 2); err != nil || b.TxCount != l2.MaxBatchTxs {
		t.Fatalf("batch 2: %+v, %v", b, err)
	}
	proof, err := challengeFrom(t, h, s, good.state, 2)
	if err != nil {
		t.Fatal(err)
	}
	if proof.Kind != fraud.KindStep || proof.Step != uint64(last) {
		t.Fatalf("proof %s at step %d, want a step proof at %d", proof.Kind, proof.Step, last)
	}
	if n := len(proof.Encode()); n > MaxFraudProofSize {
		t.Fatalf("fraud proof of %d bytes, L1 takes at most %d", n, MaxFraudProofSize)
	}
	h.mustOK(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: proof.Encode()}))
	if r := h.rollup(s.id); r.HeadNumber != 1 || r.Stake != 0 {
		t.Fatalf("head %d stake %d, want batch 2 reverted and the stake slashed", r.HeadNumber, r.Stake)
	}
	h.checkSupply()
}

// TestStakeOneStakerAtATime: while one sequencer's stake backs pending batches, another
// sequencer of the set is refused an optimistic batch (naming the staker) but may post a
// validity batch; once nothing is pending the stake is returned and the other may stake.
func TestStakeOneStakerAtATime(t *testing.T) {
	h := newHarness(t, 3)
	seq, other := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.Sequencers = append(cfg.Sequencers, other.Address())
	s, _ := setupFunded(t, h, cfg)
	p, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{{}})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.Stake != cfg.SequencerBond || r.Staker != seq.Address() {
		t.Fatalf("stake %d of %s", r.Stake, r.Staker)
	}
	before := s.snapshot()
	p, _ = s.batch(t, h, ModeOptimistic, []l2.Tx{{}})
	h.mustFail(h.tx(other, TxSubmitBatch, p), ErrNotSequencer)
	s = before
	p, _ = s.batch(t, h, ModeValidity, []l2.Tx{{}})
	h.mustOK(h.tx(other, TxSubmitBatch, p))
	for i := 0; h.rollup(s.id).FinalNumber < 3; i++ {
		if i > int(cfg.ChallengeWindow)+1 {
			t.Fatal("batches 2 and 3 not final after the window")
		}
		h.mustOK()
	}
	if r := h.rollup(s.id); r.Stake != 0 {
		t.Fatalf("stake %d of %s with nothing pending", r.Stake, r.Staker)
	}
	otherBal := h.balance(other.Address())
	p, _ = s.batch(t, h, ModeOptimistic, []l2.Tx{{}})
	res := h.mustOK(h.tx(other, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.Stake != cfg.SequencerBond || r.Staker != other.Address() {
		t.Fatalf("stake %d of %s, want the other sequencer's", r.Stake, r.Staker)
	}
	if paid := otherBal - h.balance(other.Address()); paid < cfg.SequencerBond {
		t.Fatalf("the new staker paid %d (events %+v), want the stake %d and the fee", paid, res.Events, cfg.SequencerBond)
	}
	h.checkSupply()
}
