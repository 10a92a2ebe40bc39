package settlement_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/provertest"
	"github.com/pqbridge/pqbridge/settlement"
)

// TestDepositIntoFullTree (issue 12): a depth-4 tree takes 16 accounts. Deposits for 16
// distinct keys fill it; then three deposits for new keys have no index and one for an existing
// key still fits. The sequencer refunds the three (docs/protocol.md §7.6) and goes on: an L2
// transfer after them is included. Then under PolicyValidity with the real prover (Groth16 at
// depth 4, verified by L1) the batches without refunds are proven and those with one, which
// the circuit cannot prove, are posted optimistically; every batch finalizes. The refunds are then
// claimed on L1 through the withdrawal path and the depositor's L1 balance grows back by their
// amounts. The Zig core and the Go reference, replaying every batch L1 holds, agree with each
// other and with L1's commitments (the shared vectors cover the same rules:
// ffi.TestDepositIntoFullTreeVectors and the Zig tests).
func TestDepositIntoFullTree(t *testing.T) {
	const treeDepth = 4
	p := prover.Params{Depth: treeDepth, BatchSize: 2}
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
	svc, err := prover.New(prover.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	real := &settlement.ServiceProver{Service: svc, Params: p, ChainID: l2ChainID}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, Prover: real, ProofDeadline: time.Minute},
		worldOpts{depth: treeDepth, batchSize: p.BatchSize, verifier: ver, vkHash: vkID})

	// Accounts 0..15: the tree is full. A batch (2 deposits) is posted every 2 L1 blocks, well
	// within the forced-inclusion window; optimistically, to keep the test short.
	for range 1 << treeDepth / 2 {
		w.deposit(2, 100)
		w.settle()
	}
	if err := w.eng.SetPolicy(settlement.PolicyValidity); err != nil {
		t.Fatal(err)
	}

	before := w.balance(w.user)
	refunded := []uint64{50, 60, 70}
	pks := []l2.PublicKey{}
	for i := range refunded {
		k, err := l2.GenerateKey(constReader(byte(0x90 + i)))
		if err != nil {
			t.Fatal(err)
		}
		pks = append(pks, k.Public())
	}
	pks = append(pks, w.keys[0].Public())
	amounts := append(refunded, 5)
	for i := range pks {
		w.l1Ok(w.user, chain.TxDeposit, &chain.Deposit{RollupID: w.rollup, Amount: amounts[i], PKX: pks[i].X.Bytes(), PKY: pks[i].Y.Bytes()})
		if i%2 == 1 {
			queued := uint64(1<<treeDepth + i + 1)
			w.waitL2(func(h sequencer.Header) bool { return h.DepositEnd >= queued })
			w.settle()
		}
	}
	afterDeposits := w.balance(w.user)
	if paid := before - afterDeposits; paid != 50+60+70+5 {
		t.Fatalf("the four deposits cost the depositor %d", paid)
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 3})) // the sequencer goes on
	if acc, err := sequencer.NewAPI(w.seq).GetAccount(0, nil); err != nil || !acc.Exists || acc.Balance != 100+5-3 {
		t.Fatalf("account 0: %+v %v, want the existing key's deposit placed there (balance 102)", acc, err)
	}

	w.finalizeAll()
	modes := map[settlement.Mode]int{}
	refunds := 0
	for _, s := range w.eng.Status() {
		modes[s.Mode]++
		data := batchData(t, w, s.Number)
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tx := range txs {
			if tx.Type == l2.TxRefund {
				n++
			}
		}
		if n > 0 && s.Mode != settlement.ModeOptimistic || n == 0 && s.Number > 1<<treeDepth/2 && s.Mode != settlement.ModeValidity {
			t.Fatalf("batch %d with %d refunds posted %s", s.Number, n, s.Mode)
		}
		refunds += n
		if n > 0 {
			claimRefunds(t, w, s.Number, txs)
		}
	}
	if refunds != len(refunded) || modes[settlement.ModeValidity] == 0 {
		t.Fatalf("%d refunds on L1, modes %v; want %d refunds and proven batches", refunds, modes, len(refunded))
	}
	if got, want := w.balance(w.user), afterDeposits+50+60+70; got != want {
		t.Fatalf("depositor's L1 balance %d after the refunds were claimed, want %d", got, want)
	}
	replayAgree(t, w, treeDepth)
}

// claimRefunds claims every refund of finalized batch n on L1, sent by the challenger's key:
// anyone may claim, the payee is the refund's depositor.
func claimRefunds(t *testing.T, w *world, n uint64, txs []l2.Tx) {
	t.Helper()
	leaves := make([]fr.Element, len(txs))
	for k := range txs {
		if txs[k].Type.PaysOut() {
			leaves[k] = l2.WithdrawalLeaf(txs[k].Address, txs[k].Amount)
		}
	}
	for k := range txs {
		if txs[k].Type != l2.TxRefund {
			continue
		}
		if txs[k].Address != w.user.Address() {
			t.Fatalf("refund %d of batch %d pays %x, the depositor is %x", k, n, txs[k].Address, w.user.Address())
		}
		w.l1Ok(w.chKey, chain.TxClaimWithdrawal, &chain.ClaimWithdrawal{RollupID: w.rollup, Batch: n, Index: uint64(k),
			Address: txs[k].Address, Amount: txs[k].Amount, Siblings: chain.ListWitness(leaves, k)})
	}
}

// replayAgree replays every batch L1 holds on a Zig core and on the Go reference: both give
// every transaction status ok and L1's new root and trace root, and the prover refuses the
// batches holding a refund as not provable.
func replayAgree(t *testing.T, w *world, treeDepth int) {
	t.Helper()
	core, err := ffi.New(uint32(treeDepth), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := core.Close(); err != nil {
			t.Error(err)
		}
	}()
	ref, err := l2.NewState(treeDepth)
	if err != nil {
		t.Fatal(err)
	}
	var out ffi.BatchOutput
	for n := uint64(1); n <= w.rollupState().FinalNumber; n++ {
		rec, err := w.node.Batch(w.rollup, n)
		if err != nil {
			t.Fatal(err)
		}
		data := batchData(t, w, n)
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		pre := ref.Clone()
		res := ref.ApplyBatch(txs, l2.ApplyOptions{ChainID: l2ChainID})
		if err := core.ApplyBatch(data, &out); err != nil {
			t.Fatal(err)
		}
		for k := range txs {
			if res.Statuses[k] != l2.StatusOK || out.Statuses[k] != ffi.TxOK {
				t.Fatalf("batch %d tx %d: reference %s, core %s", n, k, res.Statuses[k], out.Statuses[k])
			}
		}
		if res.FinalRoot.Bytes() != rec.NewRoot || out.FinalRoot != rec.NewRoot || res.TraceRoot.Bytes() != out.TraceRoot ||
			res.WithdrawalRoot.Bytes() != out.WithdrawalRoot || out.WithdrawalRoot != rec.WithdrawalRoot {
			t.Fatalf("batch %d: the reference, the core and L1 disagree on its roots", n)
		}
		if !hasRefund(txs) {
			continue
		}
		c, err := rec.Commitment(l2ChainID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&settlement.ServiceProver{Params: prover.Params{Depth: treeDepth, BatchSize: 2}, ChainID: l2ChainID}).Prove(
			context.Background(), &c, data, settlement.GoReferenceState(pre, l2ChainID)); !errors.Is(err, prover.ErrNotProvable) {
			t.Fatalf("batch %d holds a refund: Prove = %v, want ErrNotProvable", n, err)
		}
	}
}

// batchData is batch n's data as L1 stores it, decompressed.
func batchData(t *testing.T, w *world, n uint64) []byte {
	t.Helper()
	frame, err := w.node.BatchData(w.rollup, n)
	if err != nil {
		t.Fatal(err)
	}
	data, err := chain.DecompressBatch(frame)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hasRefund(txs []l2.Tx) bool {
	for _, tx := range txs {
		if tx.Type == l2.TxRefund {
			return true
		}
	}
	return false
}
