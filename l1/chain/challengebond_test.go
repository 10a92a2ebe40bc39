package chain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

// countingJudge is the real judge with a count of its runs, to see that a refused challenge
// never reached it.
type countingJudge struct{ runs *int }

func (j countingJudge) Judge(c *FraudCase) (bool, error) {
	*j.runs++
	return fraud.Judge{}.Judge(c)
}

// TestFeesAndBondsChallengeBond: with a challenge bond configured, each proof the judge rejects
// (well formed but no fraud, malformed, against another batch) burns the challenger's bond; a
// challenger that cannot pay the bond is refused before the judge runs, as is an oversized
// proof; the upheld proof gets its bond back with the reward; supply and escrow stay audited.
func TestFeesAndBondsChallengeBond(t *testing.T) {
	var runs int
	h := newHarnessWithJudge(t, 3, countingJudge{&runs})
	seq, user, challenger := h.users[0], h.users[1], h.users[2]
	const bond = 300
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.ChallengeWindow, cfg.ExodusTimeout, cfg.ChallengeBond = 50, 100, bond
	s, k := setupFunded(t, h, cfg)
	if got := h.rollup(s.id).Config.ChallengeBond; got != bond {
		t.Fatalf("registered challenge bond %d, want %d", got, bond)
	}

	// Batch 2 commits a wrong withdrawal root; everything else in it is right.
	good, bad := s.snapshot(), s.snapshot()
	p, _ := bad.batch(t, h, ModeOptimistic, []l2.Tx{{}, withdrawTx(t, k, 7, 1, 0, 10, common.Address{2})})
	p.WithdrawalRoot = zeroFr.Bytes()
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	proof, err := challengeFrom(t, h, s, good.state, 2)
	if err != nil || proof.Kind != fraud.KindWithdrawalRoot {
		t.Fatalf("Build: %+v, %v", proof, err)
	}

	// A well-formed proof that shows no fraud: the final root is the last trace entry.
	stored, err := h.c.BatchTrace(s.id, 2)
	if err != nil {
		t.Fatal(err)
	}
	trace := make([]fr.Element, len(stored))
	for i := range stored {
		trace[i], _ = fieldElement(stored[i])
	}
	last := len(trace) - 1
	noFraud := &fraud.Proof{Kind: fraud.KindFinalRoot, Batch: 2, Step: uint64(last), NextRoot: trace[last],
		NextSiblings: l2.ListWitness(trace, last)}
	otherBatch := *proof
	otherBatch.Batch = 3

	g, _ := h.c.Global()
	rejected := []struct {
		name  string
		proof []byte
	}{
		{"not fraud", noFraud.Encode()},
		{"malformed", []byte{0xde, 0xad}},
		{"another batch", otherBatch.Encode()},
	}
	for _, tc := range rejected {
		before, judged := h.balance(challenger.Address()), runs
		r := h.block(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: tc.proof}))
		if !errors.Is(r.Errs[0], ErrFraudNotProven) {
			t.Fatalf("%s: got %v, want %v", tc.name, r.Errs[0], ErrFraudNotProven)
		}
		if runs != judged+1 {
			t.Fatalf("%s: judge ran %d times", tc.name, runs-judged)
		}
		if got := h.balance(challenger.Address()); got != before-bond {
			t.Fatalf("%s: challenger balance %d -> %d, want the bond %d lost", tc.name, before, got, bond)
		}
		g1, _ := h.c.Global()
		if g1.Burned != g.Burned+bond || g1.Bonded != g.Bonded {
			t.Fatalf("%s: global %+v -> %+v, want %d more burned", tc.name, g, g1, bond)
		}
		g = g1
		if n := len(r.Events); n != 2 || r.Events[0].Kind != EventChallengeRejected || r.Events[0].Amount != bond ||
			r.Events[0].Address != challenger.Address() || r.Events[0].Number != 2 {
			t.Fatalf("%s: events %+v, want one challenge_rejected of the bond", tc.name, r.Events)
		}
		if hd := h.rollup(s.id).HeadNumber; hd != 2 {
			t.Fatalf("%s: a rejected challenge moved the head to %d", tc.name, hd)
		}
		h.checkSupply()
	}

	// A challenger with less than the bond is refused before the judge runs, even with the proof
	// that would be upheld; so is an oversized proof. Neither loses anything.
	poor := seededKey(t, 77)
	h.mustOK(h.tx(user, TxTransfer, &Transfer{To: poor.Address(), Amount: bond - 1}))
	judged := runs
	h.mustFail(h.tx(poor, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: proof.Encode()}), ErrInsufficientFunds)
	before := h.balance(challenger.Address())
	h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: make([]byte, MaxFraudProofSize+1)}), ErrTxMalformed)
	if runs != judged {
		t.Fatalf("the judge ran %d times for refused challenges", runs-judged)
	}
	if got := h.balance(poor.Address()); got != bond-1 {
		t.Fatalf("poor challenger balance %d, want %d", got, bond-1)
	}
	if got := h.balance(challenger.Address()); got != before {
		t.Fatalf("an oversized proof cost %d", before-got)
	}
	if g1, _ := h.c.Global(); g1 != g {
		t.Fatalf("refused challenges changed the totals: %+v -> %+v", g, g1)
	}

	// The upheld proof: the bond comes back with half the sequencer's bond as the reward.
	before, seqBefore := h.balance(challenger.Address()), h.balance(seq.Address())
	r := h.mustOK(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: proof.Encode()}))
	if got := h.balance(challenger.Address()); got != before+cfg.SequencerBond/2 {
		t.Fatalf("upheld: challenger balance %d -> %d, want +%d (bond back and the reward)", before, got, cfg.SequencerBond/2)
	}
	if got := h.balance(seq.Address()); got != seqBefore {
		t.Fatalf("upheld: sequencer balance %d -> %d", seqBefore, got)
	}
	g1, _ := h.c.Global()
	if g1.Burned != g.Burned+cfg.SequencerBond-cfg.SequencerBond/2 || g1.Bonded != g.Bonded-cfg.SequencerBond {
		t.Fatalf("upheld: global %+v -> %+v", g, g1)
	}
	upheld := false
	for _, e := range r.Events {
		upheld = upheld || e.Kind == EventChallengeUpheld && e.Address == challenger.Address() && e.Amount == cfg.SequencerBond/2
		if e.Kind == EventChallengeRejected {
			t.Fatalf("upheld challenge recorded as rejected: %+v", e)
		}
	}
	if ro := h.rollup(s.id); !upheld || ro.HeadNumber != 1 || ro.Escrow != ro.Deposited-ro.Paid {
		t.Fatalf("upheld event %v, rollup %+v", upheld, ro)
	}
	h.checkSupply(poor.Address())
}

// TestChallengeBondConfigEncoding: ChallengeBond is optional in the RLP, so a config without a
// bond encodes as before the field existed (stored rollups and state roots do not change), and
// such an encoding decodes with bond 0; a bond round-trips.
func TestChallengeBondConfigEncoding(t *testing.T) {
	type legacyConfig struct { // RollupConfig before ChallengeBond
		L2ChainID             uint64
		VKHash                [32]byte
		TreeDepth             uint8
		BatchSize             uint64
		SequencerBond         uint64
		ChallengeWindow       uint64
		ForcedInclusionWindow uint64
		ExodusTimeout         uint64
		Governor              GovernorConfig
		Sequencers            []common.Address
		Guardians             [][]byte
		GuardianThreshold     uint64
	}
	old := legacyConfig{L2ChainID: 7, VKHash: [32]byte{1}, TreeDepth: 4, BatchSize: 16, SequencerBond: 1000, ChallengeWindow: 5,
		ForcedInclusionWindow: 10, ExodusTimeout: 50, Sequencers: []common.Address{{9}}, GuardianThreshold: 0}
	oldEnc, err := rlp.EncodeToBytes(&old)
	if err != nil {
		t.Fatal(err)
	}
	cfg := RollupConfig{L2ChainID: 7, VKHash: [32]byte{1}, TreeDepth: 4, BatchSize: 16, SequencerBond: 1000, ChallengeWindow: 5,
		ForcedInclusionWindow: 10, ExodusTimeout: 50, Sequencers: []common.Address{{9}}}
	enc, err := rlp.EncodeToBytes(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, oldEnc) {
		t.Fatalf("a config without a bond encodes as %x, before the field %x", enc, oldEnc)
	}
	var dec RollupConfig
	if err := rlp.DecodeBytes(oldEnc, &dec); err != nil || dec.ChallengeBond != 0 || dec.SequencerBond != 1000 {
		t.Fatalf("old encoding decodes as %+v, %v", dec, err)
	}
	cfg.ChallengeBond = 12345
	if enc, err = rlp.EncodeToBytes(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := rlp.DecodeBytes(enc, &dec); err != nil || dec.ChallengeBond != 12345 {
		t.Fatalf("bond round trip: %+v, %v", dec, err)
	}
}
