package chain

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

var _ FraudJudge = fraud.Judge{}

// challengeFrom builds the fraud proof a challenger whose state before the batch is pre makes
// against batch number, from what L1 stores of it: record, data and trace.
func challengeFrom(t *testing.T, h *harness, s *l2Side, pre *l2.State, number uint64) (*fraud.Proof, error) {
	t.Helper()
	rec, err := h.c.Batch(s.id, number)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rec.Commitment(s.cfg.L2ChainID)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := h.c.BatchData(s.id, number)
	if err != nil {
		t.Fatal(err)
	}
	data, err := DecompressBatch(frame)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.c.BatchTrace(s.id, number)
	if err != nil {
		t.Fatal(err)
	}
	trace := make([]fr.Element, len(stored))
	for k := range stored {
		trace[k], _ = fieldElement(stored[k])
	}
	return fraud.Build(pre.Clone(), &c, data, trace, nil)
}

// TestFraudProofEndToEnd runs a wrong-arithmetic batch through L1 with the real judge: posted
// with its trace, found by fraud.Build from what L1 stores, challenged, reverted with its
// successor, the bond split; then the sequencer's corrected chain finalizes.
func TestFraudProofEndToEnd(t *testing.T) {
	h := newHarnessWithJudge(t, 3, fraud.Judge{})
	seq, user, challenger := h.users[0], h.users[1], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.ChallengeWindow, cfg.ExodusTimeout = 50, 100
	s, k1 := setupFunded(t, h, cfg)
	k2 := l2Key(t, 2)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)))

	// Batch 2, honest: account 2 is created, account 1 withdraws 10.
	before2 := s.snapshot()
	dest := common.Address{0xd2}
	p2, res2 := s.batch(t, h, ModeOptimistic, []l2.Tx{s.depositTx(t, h, 1, 2), withdrawTx(t, k1, 7, 1, 0, 10, dest)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p2))
	honest := s.snapshot() // the challenger's view after batch 2

	// Batch 3: a transfer of 100 from account 1 to 2, but the sequencer credits 101.
	transfer := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 100, Nonce: 1}
	if err := l2.SignTx(k1, 7, &transfer); err != nil {
		t.Fatal(err)
	}
	p3, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{transfer})
	accs := s.state.Accounts()
	for i := range accs {
		if accs[i].Index == 2 {
			accs[i].Account.Balance++
		}
	}
	wrong, err := l2.NewStateFromAccounts(int(cfg.TreeDepth), accs)
	if err != nil {
		t.Fatal(err)
	}
	s.state = wrong
	root := wrong.Root()
	traceRoot := l2.ListRoot([]fr.Element{root})
	p3.NewRoot, p3.TraceRoot, p3.Trace = root.Bytes(), traceRoot.Bytes(), [][32]byte{root.Bytes()}
	// Batch 4 builds on the wrong root.
	p4, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{{}})
	h.mustOK(h.tx(seq, TxSubmitBatch, p3), h.tx(seq, TxSubmitBatch, p4))

	if _, err := challengeFrom(t, h, s, before2.state, 2); !errors.Is(err, fraud.ErrNoFraud) {
		t.Fatalf("honest batch 2: %v", err)
	}
	proof, err := challengeFrom(t, h, s, honest.state, 3)
	if err != nil {
		t.Fatal(err)
	}
	if proof.Kind != fraud.KindStep || proof.Step != 0 || proof.Batch != 3 {
		t.Fatalf("proof %s at step %d of batch %d", proof.Kind, proof.Step, proof.Batch)
	}

	// The proof proves nothing against the honest batch 2 or batch 4, nor altered.
	h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: proof.Encode()}), ErrFraudNotProven)
	h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 4, Proof: proof.Encode()}), ErrFraudNotProven)
	altered := *proof
	altered.Accounts = append([]l2.AccountWitness(nil), proof.Accounts...)
	altered.Accounts[1].Account.Balance++
	h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 3, Proof: altered.Encode()}), ErrFraudNotProven)
	if r := h.rollup(s.id); r.HeadNumber != 4 {
		t.Fatalf("a rejected challenge moved the head to %d", r.HeadNumber)
	}

	seqBal, chBal := h.balance(seq.Address()), h.balance(challenger.Address())
	g0, _ := h.c.Global()
	r := h.mustOK(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 3, Proof: proof.Encode()}))
	after := h.rollup(s.id)
	if after.HeadNumber != 2 || after.HeadRoot != p2.NewRoot || after.HeadConsumed != 2 {
		t.Fatalf("not reverted to batch 2: %+v", after)
	}
	if got := h.balance(challenger.Address()); got != chBal+cfg.SequencerBond/2 {
		t.Fatalf("challenger got %d, want half the bond %d", got-chBal, cfg.SequencerBond/2)
	}
	if got := h.balance(seq.Address()); got != seqBal {
		t.Fatalf("sequencer got %d back, want nothing: its one stake is slashed", got-seqBal)
	}
	g1, _ := h.c.Global()
	if g1.Burned-g0.Burned != cfg.SequencerBond-cfg.SequencerBond/2 || g0.Bonded-g1.Bonded != cfg.SequencerBond {
		t.Fatalf("global %+v -> %+v", g0, g1)
	}
	var reverted []uint64
	for _, e := range r.Events {
		if e.Kind == EventBatchReverted {
			reverted = append(reverted, e.Number)
		}
	}
	if len(reverted) != 2 || reverted[0] != 4 || reverted[1] != 3 {
		t.Fatalf("reverted %v", reverted)
	}
	for _, n := range []uint64{3, 4} {
		if _, err := h.c.BatchTrace(s.id, n); !errors.Is(err, ErrNotFound) {
			t.Fatalf("trace of reverted batch %d: %v", n, err)
		}
	}

	// The sequencer resubmits batch 3 correctly from the last valid root; the chain finalizes.
	p3, _ = honest.batch(t, h, ModeOptimistic, []l2.Tx{transfer})
	h.mustOK(h.tx(seq, TxSubmitBatch, p3))
	if _, err := challengeFrom(t, h, honest, s.snapshot().state, 3); err == nil {
		t.Fatal("a state at another root built a proof")
	}
	for h.rollup(s.id).FinalNumber < 3 {
		h.mustOK()
	}
	if r := h.rollup(s.id); r.FinalRoot != p3.NewRoot {
		t.Fatalf("final root %x, want %x", r.FinalRoot, p3.NewRoot)
	}
	claim := &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: 1, Address: dest, Amount: 10, Siblings: ListWitness(res2.WithdrawalLeaves, 1)}
	h.mustOK(h.tx(user, TxClaimWithdrawal, claim))
	h.checkSupply(dest)
}

// TestFraudKindsOnL1: L1 accepts at submission batches whose fault only a fraud proof shows —
// a new root that is not the trace's last entry, a wrong withdrawal root, an invalid
// transaction — and reverts each on the proof fraud.Build makes from what L1 stores.
func TestFraudKindsOnL1(t *testing.T) {
	h := newHarnessWithJudge(t, 3, fraud.Judge{})
	seq, challenger := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.ChallengeWindow, cfg.ExodusTimeout = 50, 100
	s, k := setupFunded(t, h, cfg)
	forged := withdrawTx(t, k, 7, 1, 0, 10, common.Address{3})
	forged.Sig.S.SetUint64(1)
	cases := []struct {
		name   string
		faulty bool
		txs    []l2.Tx
		forge  func(p *SubmitBatch)
		kind   fraud.Kind
	}{
		{"final root is not the last trace entry", false, []l2.Tx{withdrawTx(t, k, 7, 1, 0, 10, common.Address{1})},
			func(p *SubmitBatch) { p.NewRoot = p.PrevRoot }, fraud.KindFinalRoot},
		{"wrong withdrawal root", false, []l2.Tx{{}, withdrawTx(t, k, 7, 1, 0, 10, common.Address{2})},
			func(p *SubmitBatch) { p.WithdrawalRoot = zeroFr.Bytes() }, fraud.KindWithdrawalRoot},
		{"invalid signature included", true, []l2.Tx{forged}, func(*SubmitBatch) {}, fraud.KindStep},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			good := s.snapshot()
			bad := s.snapshot()
			bad.faulty = tc.faulty
			p, _ := bad.batch(t, h, ModeOptimistic, tc.txs)
			tc.forge(p)
			h.mustOK(h.tx(seq, TxSubmitBatch, p))
			proof, err := challengeFrom(t, h, s, good.state, 2)
			if err != nil || proof.Kind != tc.kind {
				t.Fatalf("Build: %+v, %v", proof, err)
			}
			chBal := h.balance(challenger.Address())
			h.mustOK(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: proof.Encode()}))
			if r := h.rollup(s.id); r.HeadNumber != 1 || r.HeadRoot != p.PrevRoot {
				t.Fatalf("not reverted: head %d", r.HeadNumber)
			}
			if got := h.balance(challenger.Address()); got != chBal+cfg.SequencerBond/2 {
				t.Fatalf("challenger got %d", got-chBal)
			}
		})
	}
	h.checkSupply()
}
