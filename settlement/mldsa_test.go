package settlement_test

import (
	"context"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/provertest"
	"github.com/pqbridge/pqbridge/settlement"
)

// depositMLDSA deposits amount on L1 to the ML-DSA-65 account of key (the deposit registers the
// key on L1) and returns the L2 index it lands at once the sequencer has placed it.
func (w *world) depositMLDSA(key *pqkey.PrivateKey, amount uint64) uint32 {
	w.t.Helper()
	w.l1Ok(w.user, chain.TxDeposit, &chain.Deposit{RollupID: w.rollup, Amount: amount, MLDSAKey: key.Public().Bytes()})
	w.keys, w.l2Nonces = append(w.keys, nil), append(w.l2Nonces, 0) // w.keys[i] is account i's EdDSA key
	w.l1Deposits++
	want := uint64(w.l1Deposits)
	w.waitL2(func(h sequencer.Header) bool { return h.DepositEnd >= want })
	return uint32(len(w.keys) - 1)
}

// sendMLDSA signs tx (type 5/6) from account tx.From with key and its next nonce, sends it with
// its signature and waits until a block holds it.
func (w *world) sendMLDSA(key *pqkey.PrivateKey, tx l2.Tx) {
	w.t.Helper()
	tx.Nonce = w.l2Nonces[tx.From]
	w.l2Nonces[tx.From]++
	sig, err := l2.SignMLDSA(key, l2ChainID, &tx)
	if err != nil {
		w.t.Fatal(err)
	}
	ch, cancel := w.seq.Subscribe()
	defer cancel()
	rec := tx.Encode()
	h, err := w.seq.SendTransaction(w.ctx, append(rec[:], sig...))
	if err != nil {
		w.t.Fatalf("L2 %s: %v", tx.Type, err)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				w.t.Fatal("subscription dropped")
			}
			for _, x := range ev.TxHashes {
				if x == h {
					return
				}
			}
		case <-timeout:
			w.t.Fatalf("L2 %s never in a block", tx.Type)
		}
	}
}

// TestMLDSABatchOptimistic: under PolicyAuto with a prover (real Groth16 proofs, dev setup), a
// batch of EdDSA transfers settles by validity, and its twin holding an ML-DSA transfer and
// withdrawal (from an account whose L1 deposit registered its key) goes out optimistically
// without a proof being asked: L1 takes its interleaved data (each signature after its record),
// the challenger re-executes it and agrees, and it is final after the window with the
// withdrawal in its withdrawal root.
func TestMLDSABatchOptimistic(t *testing.T) {
	p := prover.Params{Depth: l2.MinTreeDepth, BatchSize: 2}
	keys := provertest.Keys(t, p) // one dev setup per parameters and test binary
	vk, err := prover.VerifyingKeyBytes(keys.VK)
	if err != nil {
		t.Fatal(err)
	}
	ver := prover.NewVerifier()
	vkID, err := ver.Add(vk)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := prover.New(prover.Config{Keys: keys, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	jobs := &jobLog{real: svc}
	pre := &corePreStates{}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyAuto, MaxValidityTxs: p.BatchSize,
		Prover: &settlement.ServiceProver{Service: jobs, Params: p, ChainID: l2ChainID}, ProofDeadline: time.Minute},
		worldOpts{depth: p.Depth, batchSize: p.BatchSize, verifier: ver, vkHash: vkID,
			preStates: func(s *sequencer.Sequencer) settlement.PreStates { pre.seq = s; return pre }})
	w.deposit(2, 1000)
	w.settle()
	key := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x17, 0xc})
	a := w.depositMLDSA(key, 1000)
	w.settle()

	// The EdDSA twin: a validity batch.
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}), w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 0, Amount: 2}))
	w.settle()
	// An ML-DSA transfer and withdrawal: optimistic.
	w.sendMLDSA(key, l2.Tx{Type: l2.TxTransferMLDSA, From: a, To: 0, Amount: 40})
	w.sendMLDSA(key, l2.Tx{Type: l2.TxWithdrawMLDSA, From: a, Address: w.user.Address(), Amount: 300})
	w.settle()
	w.finalizeAll()

	sts := w.eng.Status()
	if len(sts) != 4 {
		t.Fatalf("%d batches, want 4 (deposits, ML-DSA deposit, EdDSA, ML-DSA): %+v", len(sts), sts)
	}
	if s := sts[2]; s.Mode != settlement.ModeValidity || s.TxCount != 2 || s.State != settlement.StateFinalized {
		t.Fatalf("EdDSA batch: %+v, want a final validity batch of 2", s)
	}
	if s := sts[3]; s.Mode != settlement.ModeOptimistic || s.TxCount != 2 || s.State != settlement.StateFinalized || s.Reverts != 0 {
		t.Fatalf("ML-DSA batch: %+v, want a final optimistic batch of 2, never reverted", s)
	}
	for _, id := range jobs.ids {
		if id == "batch-4" || id == "batch-4-chunk-0" {
			t.Fatalf("a proof of the ML-DSA batch was asked: jobs %v", jobs.ids)
		}
	}
	rec, err := w.node.Batch(w.rollup, 4)
	if err != nil {
		t.Fatal(err)
	}
	r := w.rollupState()
	if rec.Mode != chain.ModeOptimistic || rec.TxCount != 2 || r.FinalNumber != 4 || r.FinalRoot != rec.NewRoot {
		t.Fatalf("L1 batch 4 %+v, rollup final %d", rec, r.FinalNumber)
	}
	// The transfer's withdrawal leaf is zero, the withdrawal's names the L1 recipient (§8.3).
	if want := l2.ListRoot([]fr.Element{{}, l2.WithdrawalLeaf(w.user.Address(), 300)}); rec.WithdrawalRoot != want.Bytes() {
		t.Fatalf("L1 batch 4 withdrawal root %x, want %x (the ML-DSA withdrawal second)", rec.WithdrawalRoot, want.Bytes())
	}
}
