package chain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

func (s *l2Side) snapshot() *l2Side {
	c := *s
	c.state = s.state.Clone()
	return &c
}

func TestEnvelopeRejections(t *testing.T) {
	h := newHarness(t, 2)
	alice, bob := h.users[0], h.users[1]
	pay := &Transfer{To: bob.Address(), Amount: 5}
	sign := func(ctx pqkey.Context, typ TxType, chainID, nonce uint64, mutate func(*Tx)) []byte {
		p, _ := rlp.EncodeToBytes(pay)
		sig, err := alice.Sign(ctx, chainID, nonce, p)
		if err != nil {
			t.Fatal(err)
		}
		tx := Tx{Type: typ, ChainID: chainID, Nonce: nonce, PubKey: alice.Public().Bytes(), Payload: p, Sig: sig}
		if mutate != nil {
			mutate(&tx)
		}
		raw, _ := rlp.EncodeToBytes(&tx)
		return raw
	}
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"bad signature", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID, 0, func(tx *Tx) { tx.Sig[10] ^= 1 }), ErrBadSignature},
		{"payload changed after signing", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID, 0, func(tx *Tx) {
			tx.Payload, _ = rlp.EncodeToBytes(&Transfer{To: bob.Address(), Amount: 500})
		}), ErrBadSignature},
		{"other signer's key", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID, 0, func(tx *Tx) { tx.PubKey = bob.Public().Bytes() }), ErrBadSignature},
		{"wrong chain ID", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID+1, 0, nil), ErrWrongChain},
		{"chain ID changed after signing", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID+1, 0, func(tx *Tx) { tx.ChainID = testChainID }), ErrBadSignature},
		{"wrong nonce", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID, 7, nil), ErrBadNonce},
		{"wrong context", sign(pqkey.ContextTxDeposit, TxTransfer, testChainID, 0, nil), ErrBadSignature},
		{"generic L1 context", sign(pqkey.ContextL1Tx, TxTransfer, testChainID, 0, nil), ErrBadSignature},
		{"unknown type", sign(pqkey.ContextTxTransfer, 99, testChainID, 0, nil), ErrUnknownType},
		{"oversized", make([]byte, MaxTxSize+1), ErrTxTooLarge},
		{"garbage", []byte{0xde, 0xad, 0xbe, 0xef}, ErrTxMalformed},
		{"empty", nil, ErrTxMalformed},
		{"payload of another type", sign(pqkey.ContextTxTransfer, TxTransfer, testChainID, 0, func(tx *Tx) {
			tx.Payload, _ = rlp.EncodeToBytes(&Challenge{RollupID: 1})
		}), ErrBadSignature},
	}
	_, _, _, root := h.c.Head()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.mustFail(tc.raw, tc.want)
			if _, _, _, got := h.c.Head(); got != root {
				t.Fatalf("a rejected envelope changed the state root")
			}
			if acct, _ := h.c.Account(alice.Address()); acct.Nonce != 0 || acct.Balance != userFunds {
				t.Fatalf("account changed: %+v", acct)
			}
		})
	}
	// The valid transaction still applies.
	h.mustOK(sign(pqkey.ContextTxTransfer, TxTransfer, testChainID, 0, nil))
	if got := h.balance(bob.Address()); got != userFunds+5 {
		t.Fatalf("bob balance %d", got)
	}
}

func TestTransfer(t *testing.T) {
	h := newHarness(t, 2)
	alice, bob := h.users[0], h.users[1]
	r := h.block(
		h.tx(alice, TxTransfer, &Transfer{To: bob.Address(), Amount: 100}),
		h.tx(alice, TxTransfer, &Transfer{To: bob.Address(), Amount: userFunds}), // fails, nonce consumed
		h.tx(alice, TxTransfer, &Transfer{To: bob.Address(), Amount: 1}),
	)
	if r.Errs[0] != nil || !errors.Is(r.Errs[1], ErrInsufficientFunds) || r.Errs[2] != nil {
		t.Fatalf("errors %v", r.Errs)
	}
	if a, b := h.balance(alice.Address()), h.balance(bob.Address()); a != userFunds-101 || b != userFunds+101 {
		t.Fatalf("balances %d %d", a, b)
	}
	if acct, _ := h.c.Account(alice.Address()); acct.Nonce != 3 {
		t.Fatalf("nonce %d, want 3 (a failed transaction consumes its nonce)", acct.Nonce)
	}
	if rc, err := h.c.Receipts(r.Header.Height); err != nil || len(rc) != 3 || rc[1].OK || rc[1].Error == "" {
		t.Fatalf("receipts %+v %v", rc, err)
	}
}

func TestRegisterRollupRejections(t *testing.T) {
	h := newHarness(t, 1)
	seq := h.users[0]
	g := seededKey(t, 50)
	base := testConfig(h, seq, 7, []*pqkey.PrivateKey{g}, 1)
	cases := []struct {
		name   string
		mutate func(*RollupConfig)
	}{
		{"depth too small", func(c *RollupConfig) { c.TreeDepth = 1 }},
		{"depth too large", func(c *RollupConfig) { c.TreeDepth = 33 }},
		{"batch size zero", func(c *RollupConfig) { c.BatchSize = 0 }},
		{"batch size too large", func(c *RollupConfig) { c.BatchSize = l2.MaxBatchTxs + 1 }},
		{"no challenge window", func(c *RollupConfig) { c.ChallengeWindow = 0 }},
		{"exodus within challenge window", func(c *RollupConfig) { c.ExodusTimeout = c.ChallengeWindow }},
		{"no sequencer", func(c *RollupConfig) { c.Sequencers = nil }},
		{"threshold above guardians", func(c *RollupConfig) { c.GuardianThreshold = 2 }},
		{"threshold zero", func(c *RollupConfig) { c.GuardianThreshold = 0 }},
		{"bad guardian key", func(c *RollupConfig) { c.Guardians = [][]byte{{1, 2, 3}} }},
		{"cap without window", func(c *RollupConfig) { c.Governor.WindowCap = 5 }},
		{"window without delay", func(c *RollupConfig) { c.Governor.WindowBlocks = 5 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Sequencers = append([]common.Address(nil), base.Sequencers...)
			tc.mutate(&cfg)
			h.mustFail(h.tx(seq, TxRegisterRollup, &cfg), ErrBadConfig)
		})
	}
	h.register(seq, base)
	h.mustFail(h.tx(seq, TxRegisterRollup, &base), ErrDuplicateChainID)
	r := h.rollup(1)
	z := l2.EmptySubtree(4)
	if r.HeadRoot != z.Bytes() || r.FinalRoot != z.Bytes() || r.Config.L2ChainID != 7 {
		t.Fatalf("registered rollup %+v", r)
	}
}

func TestDeposit(t *testing.T) {
	h := newHarness(t, 2)
	seq, user := h.users[0], h.users[1]
	s := h.register(seq, testConfig(h, seq, 7, nil, 0))
	pk1, pk2 := l2Key(t, 1).Public(), l2Key(t, 2).Public()
	r := h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, pk1, 300)), h.tx(user, TxDeposit, depositPayload(s.id, pk2, 200)))
	var dq = l2.NextDepositChain(l2.NextDepositChain(zeroFr, l2.DepositHash(pk1, 300)), l2.DepositHash(pk2, 200))
	rl := h.rollup(s.id)
	if rl.QueueLen != 2 || rl.QueueChain != dq.Bytes() || rl.Escrow != 500 || rl.Deposited != 500 {
		t.Fatalf("rollup after deposits: %+v", rl)
	}
	if got := h.balance(user.Address()); got != userFunds-500 {
		t.Fatalf("balance %d", got)
	}
	d, err := h.c.Deposit(s.id, 1)
	if err != nil || d.Amount != 200 || d.Depositor != user.Address() || d.Height != r.Header.Height {
		t.Fatalf("entry %+v %v", d, err)
	}
	var deposits int
	for _, e := range r.Events {
		if e.Kind == EventDeposit {
			deposits++
		}
	}
	if deposits != 2 {
		t.Fatalf("%d deposit events", deposits)
	}

	offCurve := &Deposit{RollupID: s.id, Amount: 1, PKX: [32]byte{31: 1}, PKY: [32]byte{31: 2}}
	identity := &Deposit{RollupID: s.id, Amount: 1, PKY: [32]byte{31: 1}}
	nonCanonical := &Deposit{RollupID: s.id, Amount: 1, PKX: [32]byte{0: 0xff}, PKY: pk1.Y.Bytes()}
	t2 := l2test.TorsionPoint(2)
	small := &Deposit{RollupID: s.id, Amount: 1, PKX: t2.X.Bytes(), PKY: t2.Y.Bytes()}
	var mixed twistededwards.PointAffine
	p1, t8 := twistededwards.NewPointAffine(pk1.X, pk1.Y), l2test.TorsionPoint(8)
	mixed.Add(&p1, &t8)
	mixedDep := &Deposit{RollupID: s.id, Amount: 1, PKX: mixed.X.Bytes(), PKY: mixed.Y.Bytes()}
	cases := []struct {
		name string
		p    *Deposit
		want error
	}{
		{"unknown rollup", depositPayload(9, pk1, 1), ErrUnknownRollup},
		{"zero amount", depositPayload(s.id, pk1, 0), ErrTxMalformed},
		{"more than the balance", depositPayload(s.id, pk1, userFunds), ErrInsufficientFunds},
		{"key off the curve", offCurve, ErrBadL2Key},
		{"identity key", identity, ErrBadL2Key},
		{"non-canonical key", nonCanonical, ErrBadL2Key},
		{"small-order key", small, ErrBadL2Key},
		{"key with a torsion component", mixedDep, ErrBadL2Key},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { h.mustFail(h.tx(user, TxDeposit, tc.p), tc.want) })
	}
}

// setupFunded registers a rollup and puts one funded L2 account at index 1 through a validity
// batch: the common start of the batch tests.
func setupFunded(t testing.TB, h *harness, cfg RollupConfig) (*l2Side, *l2.PrivateKey) {
	t.Helper()
	seq, user := h.users[0], h.users[1]
	s := h.register(seq, cfg)
	k := l2Key(t, 1)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k.Public(), 10_000)))
	p, _ := s.batch(t, h, ModeValidity, []l2.Tx{s.depositTx(t, h, 0, 1)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.FinalNumber != 1 || r.FinalConsumed != 1 {
		t.Fatalf("validity batch not final at once: %+v", r)
	}
	return s, k
}

func TestValidityBatchAndClaim(t *testing.T) {
	h := newHarness(t, 3)
	seq, claimer := h.users[0], h.users[2]
	s, k := setupFunded(t, h, testConfig(h, seq, 7, nil, 0))
	in := h.verifier.inputs[len(h.verifier.inputs)-1]
	b, err := h.c.Batch(s.id, 1)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := b.Commitment(7)
	if want := c.Hash(); !in.Equal(&want) {
		t.Fatal("the verifier did not get the recomputed commitment hash")
	}

	dest := common.Address{0xd0}
	w := withdrawTx(t, k, 7, 1, 0, 2500, dest)
	p, res := s.batch(t, h, ModeValidity, []l2.Tx{l2.Tx{}, w})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	claim := &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: 1, Address: dest, Amount: 2500,
		Siblings: ListWitness(res.WithdrawalLeaves, 1)}

	wrong := *claim
	wrong.Amount = 2501
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, &wrong), ErrBadMerkleProof)
	wrong = *claim
	wrong.Index = 0
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, &wrong), ErrBadMerkleProof)
	wrong = *claim
	wrong.Batch = 3
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, &wrong), ErrNotFinal)
	wrong = *claim
	wrong.Siblings = wrong.Siblings[1:]
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, &wrong), ErrBadMerkleProof)
	h.mustOK(h.tx(claimer, TxClaimWithdrawal, claim))
	if got := h.balance(dest); got != 2500 {
		t.Fatalf("destination got %d", got)
	}
	if r := h.rollup(s.id); r.Escrow != 7500 || r.Paid != 2500 {
		t.Fatalf("escrow %d paid %d", r.Escrow, r.Paid)
	}
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, claim), ErrAlreadyClaimed)
}

func TestOptimisticBatchFinalizesAfterWindow(t *testing.T) {
	h := newHarness(t, 3)
	seq, claimer := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	s, k := setupFunded(t, h, cfg)
	dest := common.Address{0xd1}
	w := withdrawTx(t, k, 7, 1, 0, 400, dest)
	p, res := s.batch(t, h, ModeOptimistic, []l2.Tx{w})
	before := h.balance(seq.Address())
	sub := h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if got := h.balance(seq.Address()); got != before-cfg.SequencerBond {
		t.Fatalf("bond not locked: %d -> %d", before, got)
	}
	claim := &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: 0, Address: dest, Amount: 400, Siblings: ListWitness(res.WithdrawalLeaves, 0)}
	h.mustFail(h.tx(claimer, TxClaimWithdrawal, claim), ErrNotFinal)
	if trace, err := h.c.BatchTrace(s.id, 2); err != nil || len(trace) != 1 || trace[0] != res.PostRoots[0].Bytes() {
		t.Fatalf("pending batch trace %x, %v", trace, err)
	}
	for h.rollup(s.id).FinalNumber < 2 {
		h.mustOK()
	}
	height, _, _, _ := h.c.Head()
	if want := sub.Header.Height + cfg.ChallengeWindow; height != want {
		t.Fatalf("finalized at %d, want %d", height, want)
	}
	if got := h.balance(seq.Address()); got != before {
		t.Fatalf("bond not returned: %d, want %d", got, before)
	}
	if _, err := h.c.BatchTrace(s.id, 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trace of a finalized batch: %v", err)
	}
	h.mustFail(h.tx(claimer, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: []byte("fraud")}), ErrNotPending)
	h.mustOK(h.tx(claimer, TxClaimWithdrawal, claim))
	if got := h.balance(dest); got != 400 {
		t.Fatalf("paid %d", got)
	}
}

func TestBatchRejections(t *testing.T) {
	h := newHarness(t, 3)
	seq, user, other := h.users[0], h.users[1], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	s, _ := setupFunded(t, h, cfg)
	kA := l2Key(t, 5)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, kA.Public(), 50)), h.tx(user, TxDeposit, depositPayload(s.id, kA.Public(), 60)))

	type mk func(s *l2Side) *SubmitBatch
	good := func(s *l2Side) *SubmitBatch {
		p, _ := s.batch(t, h, ModeValidity, []l2.Tx{s.depositTx(t, h, 1, 2), s.depositTx(t, h, 2, 2)})
		return p
	}
	with := func(f func(*SubmitBatch)) mk {
		return func(s *l2Side) *SubmitBatch { p := good(s); f(p); return p }
	}
	optimistic := func(f func(*SubmitBatch)) mk {
		return func(s *l2Side) *SubmitBatch {
			p, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{s.depositTx(t, h, 1, 2), s.depositTx(t, h, 2, 2)})
			f(p)
			return p
		}
	}
	frame := func(data []byte) []byte { f, _ := CompressBatch(data); return f }
	cases := []struct {
		name   string
		sender *pqkey.PrivateKey
		mk     mk
		want   error
	}{
		{"not a sequencer", other, good, ErrNotSequencer},
		{"unknown mode", seq, with(func(p *SubmitBatch) { p.Mode = 7 }), ErrBadMode},
		{"number skips", seq, with(func(p *SubmitBatch) { p.Number++ }), ErrBatchNumber},
		{"number repeats", seq, with(func(p *SubmitBatch) { p.Number-- }), ErrBatchNumber},
		{"previous root", seq, with(func(p *SubmitBatch) { p.PrevRoot[31] ^= 1 }), ErrPrevRoot},
		{"data hash mismatch", seq, with(func(p *SubmitBatch) { p.DataHash[31] ^= 1 }), ErrDataHash},
		{"tx count mismatch", seq, with(func(p *SubmitBatch) { p.TxCount = 3 }), ErrTxCount},
		{"garbage frame", seq, with(func(p *SubmitBatch) { p.Data = []byte("not zstd") }), ErrBatchData},
		{"structurally bad data", seq, with(func(p *SubmitBatch) { p.Data = frame(make([]byte, 100)) }), ErrBatchData},
		{"deposit skipped", seq, func(s *l2Side) *SubmitBatch {
			// Consumes queue entry 2 as if it were 1.
			p, _ := s.batch(t, h, ModeValidity, []l2.Tx{s.depositTx(t, h, 2, 2)})
			return p
		}, ErrDepositMismatch},
		{"dq_after not the chain", seq, with(func(p *SubmitBatch) { p.DepositsAfter = p.DepositsBefore }), ErrDepositMismatch},
		{"bad proof", seq, with(func(p *SubmitBatch) { p.Proof = []byte("forged") }), ErrBadProof},
		{"non-canonical root", seq, with(func(p *SubmitBatch) { p.NewRoot = [32]byte{0: 0xff} }), ErrTxMalformed},
		{"validity batch with a trace", seq, with(func(p *SubmitBatch) { p.Trace = [][32]byte{{}, {}} }), ErrTrace},
		{"optimistic without a trace", seq, optimistic(func(p *SubmitBatch) { p.Trace = nil }), ErrTrace},
		{"trace shorter than the batch", seq, optimistic(func(p *SubmitBatch) { p.Trace = p.Trace[1:] }), ErrTrace},
		{"trace longer than the batch", seq, optimistic(func(p *SubmitBatch) { p.Trace = append(p.Trace, [32]byte{}) }), ErrTrace},
		{"trace entry not under the trace root", seq, optimistic(func(p *SubmitBatch) { p.Trace[0][31] ^= 1 }), ErrTrace},
		{"non-canonical trace entry", seq, optimistic(func(p *SubmitBatch) { p.Trace[1] = [32]byte{0: 0xff} }), ErrTrace},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := s.snapshot()
			h.mustFail(h.tx(tc.sender, TxSubmitBatch, tc.mk(snap)), tc.want)
			if r := h.rollup(s.id); r.HeadNumber != 1 {
				t.Fatalf("a rejected batch moved the head to %d", r.HeadNumber)
			}
		})
	}
	t.Run("forced inclusion", func(t *testing.T) {
		for {
			height, _, _, _ := h.c.Head()
			d, _ := h.c.Deposit(s.id, 1)
			if height+1-d.Height >= cfg.ForcedInclusionWindow {
				break
			}
			h.mustOK()
		}
		snap := s.snapshot()
		// Consuming only the first of the two overdue deposits is rejected...
		p, _ := snap.batch(t, h, ModeValidity, []l2.Tx{snap.depositTx(t, h, 1, 2)})
		h.mustFail(h.tx(seq, TxSubmitBatch, p), ErrForcedInclusion)
		// ...and so is a batch with none.
		snap = s.snapshot()
		p, _ = snap.batch(t, h, ModeValidity, []l2.Tx{{}})
		h.mustFail(h.tx(seq, TxSubmitBatch, p), ErrForcedInclusion)
		// Consuming both is accepted.
		h.mustOK(h.tx(seq, TxSubmitBatch, good(s)))
	})
}

var zeroFr = l2.EmptySubtree(0)

func TestFraudRevertAndBondSplit(t *testing.T) {
	h := newHarness(t, 3)
	seq, challenger := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.ChallengeWindow, cfg.ExodusTimeout = 50, 100
	s, k := setupFunded(t, h, cfg)
	good := s.snapshot()
	p2, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{withdrawTx(t, k, 7, 1, 0, 10, common.Address{1})})
	p3, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{withdrawTx(t, k, 7, 1, 1, 10, common.Address{1})})
	h.mustOK(h.tx(seq, TxSubmitBatch, p2), h.tx(seq, TxSubmitBatch, p3))
	seqBal, chBal := h.balance(seq.Address()), h.balance(challenger.Address())
	before := h.rollup(s.id)
	if before.HeadNumber != 3 || before.FinalNumber != 1 {
		t.Fatalf("head %d final %d", before.HeadNumber, before.FinalNumber)
	}

	t.Run("failed proof changes nothing", func(t *testing.T) {
		for _, proof := range []string{"not fraud", "error"} {
			h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: []byte(proof)}), ErrFraudNotProven)
		}
		after := h.rollup(s.id)
		if after.HeadNumber != 3 || after.HeadRoot != before.HeadRoot || h.balance(challenger.Address()) != chBal {
			t.Fatalf("a failed challenge changed the rollup: %+v", after)
		}
	})
	h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 1, Proof: []byte("fraud")}), ErrNotPending)
	h.mustFail(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 4, Proof: []byte("fraud")}), ErrNotPending)

	g0, _ := h.c.Global()
	r := h.mustOK(h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: 2, Proof: []byte("fraud")}))
	after := h.rollup(s.id)
	if after.HeadNumber != 1 || after.HeadRoot != p2.PrevRoot || after.HeadConsumed != 1 {
		t.Fatalf("not reverted to batch 1: %+v", after)
	}
	if got := h.balance(challenger.Address()); got != chBal+cfg.SequencerBond/2 {
		t.Fatalf("challenger got %d, want half the bond %d", got-chBal, cfg.SequencerBond/2)
	}
	if got := h.balance(seq.Address()); got != seqBal {
		t.Fatalf("sequencer balance %d, want %d: its one stake backed batches 2 and 3 and is slashed", got, seqBal)
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
	if len(reverted) != 2 || reverted[0] != 3 || reverted[1] != 2 {
		t.Fatalf("reverted events %v", reverted)
	}
	if _, err := h.c.Batch(s.id, 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reverted batch still stored: %v", err)
	}
	if _, err := h.c.BatchTrace(s.id, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reverted batch's trace still stored: %v", err)
	}
	h.checkSupply(common.Address{1})
	// The sequencer resubmits from the last valid root.
	p, _ := good.batch(t, h, ModeOptimistic, []l2.Tx{{}})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.HeadNumber != 2 {
		t.Fatalf("resubmission: head %d", r.HeadNumber)
	}
}

func TestGuardianPause(t *testing.T) {
	h := newHarness(t, 2)
	seq, user := h.users[0], h.users[1]
	gs := []*pqkey.PrivateKey{seededKey(t, 60), seededKey(t, 61), seededKey(t, 62)}
	s := h.register(seq, testConfig(h, seq, 7, gs, 2))
	sigs := func(action uint8, nonce uint64, who ...int) []GuardianSig {
		var out []GuardianSig
		for _, i := range who {
			sig, err := SignGuardianAction(gs[i], testChainID, s.id, action, nonce)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, GuardianSig{Guardian: uint64(i), Sig: sig})
		}
		return out
	}
	act := func(action uint8, nonce uint64, s2 []GuardianSig) []byte {
		return h.tx(user, TxGuardianAction, &GuardianAction{RollupID: s.id, Action: action, Nonce: nonce, Sigs: s2})
	}
	wrongChain, _ := SignGuardianAction(gs[1], testChainID+1, s.id, ActionPause, 0)
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"k-1 signatures", act(ActionPause, 0, sigs(ActionPause, 0, 0)), ErrGuardianQuorum},
		{"repeated guardian", act(ActionPause, 0, append(sigs(ActionPause, 0, 0), sigs(ActionPause, 0, 0)...)), ErrGuardianQuorum},
		{"signature for unpause", act(ActionPause, 0, sigs(ActionUnpause, 0, 0, 1)), ErrGuardianQuorum},
		{"signature for another chain", act(ActionPause, 0, append(sigs(ActionPause, 0, 0), GuardianSig{Guardian: 1, Sig: wrongChain})), ErrGuardianQuorum},
		{"unknown guardian", act(ActionPause, 0, append(sigs(ActionPause, 0, 0), GuardianSig{Guardian: 5})), ErrGuardianQuorum},
		{"wrong guardian nonce", act(ActionPause, 1, sigs(ActionPause, 1, 0, 1)), ErrBadGuardianNonce},
		{"unknown action", act(9, 0, sigs(9, 0, 0, 1)), ErrBadAction},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.mustFail(tc.raw, tc.want)
			if h.rollup(s.id).Paused {
				t.Fatal("paused")
			}
		})
	}
	pause := act(ActionPause, 0, sigs(ActionPause, 0, 0, 2))
	h.mustOK(pause)
	if r := h.rollup(s.id); !r.Paused || r.GuardianNonce != 1 {
		t.Fatalf("not paused: %+v", r)
	}
	h.mustFail(h.tx(user, TxDeposit, depositPayload(s.id, l2Key(t, 1).Public(), 5)), ErrPaused)
	h.mustFail(h.tx(user, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id}), ErrPaused)
	// The same signatures cannot be replayed (the guardian nonce moved on).
	h.mustFail(act(ActionPause, 0, sigs(ActionPause, 0, 0, 2)), ErrBadGuardianNonce)
	h.mustOK(act(ActionUnpause, 1, sigs(ActionUnpause, 1, 1, 2)))
	if h.rollup(s.id).Paused {
		t.Fatal("still paused")
	}
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, l2Key(t, 1).Public(), 5)))
}

func TestExodus(t *testing.T) {
	h := newHarness(t, 3)
	seq, user, other := h.users[0], h.users[1], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	s, k := setupFunded(t, h, cfg)
	// A deposit no batch consumes, and a pending batch that never finalizes.
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k.Public(), 77)))
	finalRoot := s.state.Root()
	acct, _ := s.state.Account(1)
	wit, _ := s.state.Witness(1)
	dest := common.Address{0xee}
	msg := ExodusMessage(1, acct.Balance, dest)
	if err := l2.SignTx(k, 7, &msg); err != nil {
		t.Fatal(err)
	}
	var sibs [][32]byte
	for _, w := range wit {
		sibs = append(sibs, w.Bytes())
	}
	pk := k.Public()
	ex := &ExodusWithdrawal{RollupID: s.id, Index: 1, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes(), Balance: acct.Balance,
		L2Nonce: acct.Nonce, Siblings: sibs, Recipient: dest, SigRX: msg.Sig.RX.Bytes(), SigRY: msg.Sig.RY.Bytes(), SigS: msg.Sig.S.Bytes()}

	h.mustFail(h.tx(other, TxExodusWithdrawal, ex), ErrNotFrozen)
	h.mustFail(h.tx(other, TxExodusRefund, &ExodusRefund{RollupID: s.id, Index: 1}), ErrNotFrozen)
	h.spent(s.id, 1, 1, false, false)
	if _, err := h.c.Exited(s.id+1, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Exited of an unregistered rollup: %v, want ErrNotFound", err)
	}
	if _, err := h.c.Refunded(s.id, 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Refunded of deposit 2 of a queue of 2: %v, want ErrNotFound", err)
	}
	frozeAt := uint64(0)
	for !h.rollup(s.id).Frozen {
		r := h.mustOK()
		frozeAt = r.Header.Height
	}
	r := h.rollup(s.id)
	if frozeAt-r.FinalHeight != cfg.ExodusTimeout || r.FinalRoot != finalRoot.Bytes() {
		t.Fatalf("froze at %d, last finalization %d", frozeAt, r.FinalHeight)
	}
	h.mustFail(h.tx(user, TxDeposit, depositPayload(s.id, k.Public(), 1)), ErrFrozen)
	p, _ := s.snapshot().batch(t, h, ModeValidity, []l2.Tx{{}})
	h.mustFail(h.tx(seq, TxSubmitBatch, p), ErrFrozen)

	bad := *ex
	bad.Recipient = common.Address{0xef} // the signature names dest
	h.mustFail(h.tx(other, TxExodusWithdrawal, &bad), ErrBadL2Signature)
	bad = *ex
	bad.Balance++
	h.mustFail(h.tx(other, TxExodusWithdrawal, &bad), ErrBadMerkleProof)
	bad = *ex
	bad.Siblings = bad.Siblings[1:]
	h.mustFail(h.tx(other, TxExodusWithdrawal, &bad), ErrBadMerkleProof)
	h.spent(s.id, 1, 1, false, false) // refused exits mark nothing

	h.mustOK(h.tx(other, TxExodusWithdrawal, ex))
	h.spent(s.id, 1, 1, true, false)
	if got := h.balance(dest); got != acct.Balance {
		t.Fatalf("exodus paid %d, want %d", got, acct.Balance)
	}
	h.mustFail(h.tx(other, TxExodusWithdrawal, ex), ErrAlreadyExited)

	userBal := h.balance(user.Address())
	h.mustFail(h.tx(other, TxExodusRefund, &ExodusRefund{RollupID: s.id, Index: 0}), ErrNotRefundable) // consumed
	h.mustOK(h.tx(other, TxExodusRefund, &ExodusRefund{RollupID: s.id, Index: 1}))
	if got := h.balance(user.Address()); got != userBal+77 {
		t.Fatalf("refund %d", got-userBal)
	}
	h.spent(s.id, 1, 1, true, true)
	h.mustFail(h.tx(other, TxExodusRefund, &ExodusRefund{RollupID: s.id, Index: 1}), ErrNotRefundable)
	if refunded, err := h.c.Refunded(s.id, 0); err != nil || refunded {
		t.Fatalf("deposit 0 (consumed, its refund refused): refunded %v, %v", refunded, err)
	}
	if r := h.rollup(s.id); r.Escrow != 0 {
		t.Fatalf("escrow left %d", r.Escrow)
	}
}

func TestGovernor(t *testing.T) {
	h := newHarness(t, 3)
	seq, claimer := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.Governor = GovernorConfig{WindowBlocks: 1000, WindowCap: 500, LargeWithdrawal: 3000, DelayBlocks: 4}
	s, k := setupFunded(t, h, cfg)
	dest := common.Address{0xd2}
	txs := []l2.Tx{
		withdrawTx(t, k, 7, 1, 0, 300, dest),  // paid: 300 ≤ cap
		withdrawTx(t, k, 7, 1, 1, 300, dest),  // delayed: window cap
		withdrawTx(t, k, 7, 1, 2, 3000, dest), // delayed: large
	}
	p, res := s.batch(t, h, ModeValidity, txs)
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	var claims [][]byte
	for i, tx := range txs {
		claims = append(claims, h.tx(claimer, TxClaimWithdrawal, &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: uint64(i),
			Address: dest, Amount: tx.Amount, Siblings: ListWitness(res.WithdrawalLeaves, i)}))
	}
	h.mustOK(claims...)
	if got := h.balance(dest); got != 300 {
		t.Fatalf("paid at once %d, want 300", got)
	}
	for id, reason := range []string{"window cap", "large"} {
		d, err := h.c.Delayed(s.id, uint64(id))
		if err != nil || d.Reason != reason {
			t.Fatalf("delayed %d: %+v %v", id, d, err)
		}
	}
	h.mustFail(h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: 0}), ErrNotDue)
	h.mustFail(h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: 9}), ErrUnknownDelayed)
	h.advance(4)
	h.mustOK(h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: 0}), h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: 1}))
	if got := h.balance(dest); got != 3600 {
		t.Fatalf("after release %d, want 3600", got)
	}
	h.mustFail(h.tx(claimer, TxReleaseDelayed, &ReleaseDelayed{RollupID: s.id, ID: 0}), ErrAlreadyReleased)
	if r := h.rollup(s.id); r.Escrow != 10_000-3600 || r.Paid != 3600 {
		t.Fatalf("escrow %d paid %d", r.Escrow, r.Paid)
	}
}

func TestGovernorAnomalyDetector(t *testing.T) {
	cfg := GovernorConfig{WindowBlocks: 10, AnomalyFactor: 3, EWMAShift: 2, WarmupWindows: 4, DelayBlocks: 1}
	var g GovernorState
	// Eight windows of 100 each: the baseline climbs towards 100.
	for w := range uint64(8) {
		roll(&g, &cfg, w*10)
		if r := delayReason(&g, &cfg, 100); r != "" {
			t.Fatalf("window %d: steady outflow delayed (%s), baseline %d", w, r, g.Baseline)
		}
		g.Outflow += 100
	}
	roll(&g, &cfg, 80)
	if g.Windows != 8 || g.Baseline < 80 || g.Baseline > 100 {
		t.Fatalf("baseline %d after %d windows", g.Baseline, g.Windows)
	}
	limit := cfg.AnomalyFactor * g.Baseline
	cases := []struct {
		amount uint64
		want   string
	}{
		{limit, ""},
		{limit + 1, "anomaly"},
	}
	for _, tc := range cases {
		if got := delayReason(&g, &cfg, tc.amount); got != tc.want {
			t.Errorf("amount %d (baseline %d): %q, want %q", tc.amount, g.Baseline, got, tc.want)
		}
	}
	// Before warm-up nothing is anomalous.
	var fresh GovernorState
	if r := delayReason(&fresh, &cfg, 1<<40); r != "" {
		t.Fatalf("anomaly before warm-up: %s", r)
	}
	// Empty windows decay the baseline.
	roll(&g, &cfg, 80+10*20)
	if g.Baseline > 1 {
		t.Fatalf("baseline %d after 20 empty windows", g.Baseline)
	}
}

func TestReplayGivesSameRoots(t *testing.T) {
	h := newHarness(t, 3)
	seq, claimer := h.users[0], h.users[2]
	s, k := setupFunded(t, h, testConfig(h, seq, 7, nil, 0))
	p, res := s.batch(t, h, ModeOptimistic, []l2.Tx{withdrawTx(t, k, 7, 1, 0, 5, common.Address{3})})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	h.advance(6)
	h.mustOK(h.tx(claimer, TxClaimWithdrawal, &ClaimWithdrawal{RollupID: s.id, Batch: 2, Address: common.Address{3}, Amount: 5,
		Siblings: ListWitness(res.WithdrawalLeaves, 0)}))
	h.block(h.tx(claimer, TxTransfer, &Transfer{Amount: userFunds * 2})) // a failing transaction replays too

	fresh := h.open(openMem(t))
	for _, b := range h.blocks {
		if _, err := fresh.Apply(b); err != nil {
			t.Fatalf("replaying block %d: %v", b.Header.Height, err)
		}
	}
	_, hash1, _, root1 := h.c.Head()
	_, hash2, _, root2 := fresh.Head()
	if root1 != root2 || hash1 != hash2 {
		t.Fatalf("replay: root %s vs %s", root1, root2)
	}

	t.Run("tampered block", func(t *testing.T) {
		other := h.open(openMem(t))
		b := *h.blocks[0]
		b.Header.StateRoot[0] ^= 1
		if _, err := other.Apply(&b); !errors.Is(err, ErrBadHeaderSignature) && !errors.Is(err, ErrStateRootMismatch) {
			t.Fatalf("tampered root: %v", err)
		}
		b = *h.blocks[0]
		b.Txs = append([][]byte{h.tx(claimer, TxTransfer, &Transfer{Amount: 1})}, b.Txs...)
		if _, err := other.Apply(&b); !errors.Is(err, ErrStateRootMismatch) {
			t.Fatalf("extra tx: %v", err)
		}
		b = *h.blocks[1]
		if _, err := other.Apply(&b); !errors.Is(err, ErrBadBlock) {
			t.Fatalf("out of order: %v", err)
		}
	})
}

// The state root is a function of the state, not of its history: two histories reaching the
// same balances give the same root.
func TestStateRootIsHistoryIndependent(t *testing.T) {
	a := newHarness(t, 2)
	b := newHarness(t, 2)
	u0, u1 := a.users[0], a.users[1]
	a.mustOK(a.tx(u0, TxTransfer, &Transfer{To: u1.Address(), Amount: 10}))
	a.mustOK(a.tx(u1, TxTransfer, &Transfer{To: u0.Address(), Amount: 10}))
	b.mustOK(b.tx(u1, TxTransfer, &Transfer{To: u0.Address(), Amount: 3}), b.tx(u0, TxTransfer, &Transfer{To: u1.Address(), Amount: 3}))
	_, _, _, ra := a.c.Head()
	_, _, _, rb := b.c.Head()
	if ra != rb {
		t.Fatal("same state, different roots")
	}
	b.mustOK(b.tx(u1, TxTransfer, &Transfer{To: u0.Address(), Amount: 1}))
	if _, _, _, rb2 := b.c.Head(); rb2 == rb {
		t.Fatal("different state, same root")
	}
}

func TestReopenContinues(t *testing.T) {
	h := newHarness(t, 2)
	h.mustOK(h.tx(h.users[0], TxTransfer, &Transfer{To: h.users[1].Address(), Amount: 10}))
	height, hash, _, root := h.c.Head()
	c2 := h.open(h.db)
	h2, hash2, _, root2 := c2.Head()
	if h2 != height || hash2 != hash || root2 != root {
		t.Fatal("reopened chain differs")
	}
	g := h.genesis()
	g.ChainID++
	if _, err := Open(h.db, Config{Genesis: g}); err == nil {
		t.Fatal("opened with another genesis")
	}
}

func TestEscrowInvariantIsFatal(t *testing.T) {
	h := newHarness(t, 1)
	s := h.register(h.users[0], testConfig(h, h.users[0], 7, nil, 0))
	r := h.rollup(s.id)
	r.Escrow = 5 // escrow without deposits
	enc, _ := rlp.EncodeToBytes(r)
	if err := h.db.Set([]byte(keyRollup(s.id)), enc, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err := h.c.Execute(0, nil)
	if !errors.Is(err, ErrEscrowInvariant) {
		t.Fatalf("got %v, want the escrow invariant violation", err)
	}
}

func TestDecompressBatchBound(t *testing.T) {
	big := bytes.Repeat([]byte{0}, MaxBatchDataSize+1)
	frame, _ := CompressBatch(big)
	if _, err := DecompressBatch(frame); !errors.Is(err, ErrBatchData) {
		t.Fatalf("oversized frame: %v", err)
	}
	ok := bytes.Repeat([]byte{0}, MaxBatchDataSize)
	frame, _ = CompressBatch(ok)
	if got, err := DecompressBatch(frame); err != nil || len(got) != MaxBatchDataSize {
		t.Fatalf("max-size frame: %d %v", len(got), err)
	}
}
