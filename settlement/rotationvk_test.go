package settlement_test

import (
	"context"
	"testing"
	"time"

	"github.com/consensys/gnark/backend/groth16"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/provertest"
	"github.com/pqbridge/pqbridge/settlement"
)

// twoKeySets makes two key sets of p from two dev setups of one compiled circuit (different
// randomness: different verifying keys) and registers both with a verifier.
func twoKeySets(t *testing.T, p prover.Params) (k1, k2 *prover.Keys, ver *prover.Verifier, id1, id2 prover.KeyID) {
	t.Helper()
	// The first set is the package's shared dev setup of p; the second a setup of its circuit.
	first := provertest.Keys(t, p)
	cs := first.CS
	ver = prover.NewVerifier()
	var sets [2]*prover.Keys
	var ids [2]prover.KeyID
	for i := range sets {
		if i == 0 {
			sets[i] = first
		} else {
			pk, vk, err := groth16.Setup(cs)
			if err != nil {
				t.Fatal(err)
			}
			sets[i] = &prover.Keys{Params: p, CS: cs, PK: pk, VK: vk}
		}
		raw, err := prover.VerifyingKeyBytes(sets[i].VK)
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = ver.Add(raw); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] == ids[1] {
		t.Fatal("two dev setups gave the same verifying key")
	}
	return sets[0], sets[1], ver, ids[0], ids[1]
}

// settleUntilPosted steps the world until the engine's last batch is no longer waiting for its
// proof (bounded by a deadline).
func (w *world) settleUntilPosted(number uint64) {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		w.settle()
		for _, s := range w.eng.Status() {
			if s.Number == number && s.State != settlement.StateBuilt {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.t.Fatalf("batch %d not posted: %+v", number, w.eng.Status())
}

// TestRotationProverPicksUpNewVK: a prover holding the key sets of vk1 and vk2 (vk2 loaded
// during the timelock of a guardian config change to vk2) proves the batch before the
// activation height under vk1 and the batch after it under vk2, without a restart: L1 accepts
// both as validity batches and both finalize; the engine never falls back to optimistic.
func TestRotationProverPicksUpNewVK(t *testing.T) {
	p := prover.Params{Depth: l2.MinTreeDepth, BatchSize: 1}
	k1, k2, ver, id1, id2 := twoKeySets(t, p)
	svc, err := prover.New(prover.Config{Keys: k1, MoreKeys: []*prover.Keys{k2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	if !svc.HasVK(id1) || !svc.HasVK(id2) || svc.HasVK(prover.KeyID{9}) {
		t.Fatalf("service keys %v, want %v and %v", svc.KeyIDs(), id1, id2)
	}
	gs := []*pqkey.PrivateKey{l1Key(20), l1Key(21)}
	sp := &settlement.ServiceProver{Service: svc, Params: p, ChainID: l2ChainID}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyValidity, Prover: sp, ProverVK: id1, ProofDeadline: time.Minute},
		worldOpts{depth: p.Depth, batchSize: p.BatchSize, verifier: ver, vkHash: id1, guardians: gs})

	w.deposit(2, 1000)
	w.settleUntilPosted(1)
	before := w.eng.Status()
	last := before[len(before)-1].Number

	// Guardians queue the change to vk2; it activates after the timelock.
	r := w.rollupState()
	next := r.Config
	next.VKHash = id2
	var sigs []chain.GuardianSig
	for i, g := range gs {
		sig, err := chain.SignConfigChange(g, l1ChainID, w.rollup, &next, r.GuardianNonce)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, chain.GuardianSig{Guardian: uint64(i), Sig: sig})
	}
	w.l1Ok(w.user, chain.TxConfigChange, &chain.ConfigChange{RollupID: w.rollup, Nonce: r.GuardianNonce, Config: next, Sigs: sigs})
	pend := w.rollupState().Pending
	if pend == nil || pend.Config.VKHash != id2 {
		t.Fatalf("pending %+v, want the change to %v", pend, id2)
	}
	for range 4 * (pend.ActivateAt + 2) {
		if w.settle().Header.Height >= pend.ActivateAt {
			break
		}
	}
	if rs := w.rollupState(); rs.Config.VKHash != id2 {
		t.Fatalf("VK in force %x after the activation height %d, want %v", rs.Config.VKHash, pend.ActivateAt, id2)
	}

	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 7}))
	w.settleUntilPosted(last + 1)
	w.finalizeAll()
	if w.eng.ProverKeyMismatch() {
		t.Fatal("the engine fell back to optimistic posting")
	}
	var under1, under2 int
	for _, s := range w.eng.Status() {
		rec, err := w.node.Batch(w.rollup, s.Number)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Mode != chain.ModeValidity || s.Mode != settlement.ModeValidity || s.State != settlement.StateFinalized {
			t.Fatalf("batch %d: L1 mode %d, engine %+v; want a final validity batch", s.Number, rec.Mode, s)
		}
		if rec.SubmittedAt < pend.ActivateAt {
			under1++
		} else {
			under2++
		}
	}
	if under1 == 0 || under2 == 0 {
		t.Fatalf("%d validity batches before the activation height %d (vk1), %d after (vk2); want both", under1, pend.ActivateAt, under2)
	}
}
