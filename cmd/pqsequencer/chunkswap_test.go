package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverpool"
)

// swapRollup is the second rollup of the gate test's L1, which the test itself sequences.
const (
	swapRollup  = 2
	swapL2Chain = e2eL2Chain + 1
)

// checkChunkSwapRefused sequences rollup swapRollup itself (key seq, same keys as rollup 1) on
// the gate test's L1 node: two deposits from user (whose next L1 nonce is userNonce) and
// transfers make a batch of 4×B transactions, proven as 4 chunk proofs by the prover process at
// proverURL through a proverpool.Pool. L1 refuses the submission with two chunk proofs swapped
// (ErrBadProof, naming the first wrong chunk) and accepts it with the proofs in order: final at
// once.
func checkChunkSwapRefused(t *testing.T, cl *l1client.Client, user, seq *pqkey.PrivateKey, userNonce uint64, vp prover.Params, proverURL string) {
	t.Helper()
	ctx := context.Background()
	var keys []*l2.PrivateKey
	for i := range 2 {
		k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(i + 5)}, 64)))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		pk := k.Public()
		raw, err := chain.SignTx(user, chain.TxDeposit, e2eL1Chain, userNonce+uint64(i), &chain.Deposit{RollupID: swapRollup,
			Amount: 1000, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.SubmitTx(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	proctest.WaitFor(t, "rollup 2's deposits queued on L1", proctest.Timeout, func() bool {
		_, err := cl.Deposit(ctx, swapRollup, 1)
		return err == nil
	})

	// The batch: both deposits, then transfers from account 0 up to 4×B transactions.
	n := chunkedTxs(vp)
	txs := make([]l2.Tx, 0, n)
	var dq fr.Element
	for i, k := range keys {
		tx := l2.Tx{Type: l2.TxDeposit, From: uint32(i), PubKey: k.Public(), Amount: 1000}
		dq = l2.NextDepositChain(dq, l2.DepositHash(tx.PubKey, tx.Amount))
		txs = append(txs, tx)
	}
	for nonce := uint64(0); len(txs) < n; nonce++ {
		tx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 1, Nonce: nonce}
		if err := l2.SignTx(keys[0], swapL2Chain, &tx); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	st, err := l2.NewState(vp.Depth)
	if err != nil {
		t.Fatal(err)
	}
	c := l2.Commitment{ChainID: swapL2Chain, BatchNumber: 1, PrevRoot: st.Root(), DepositsAfter: dq, TxCount: uint64(n),
		WithdrawalRoot: l2.ListRoot(l2.WithdrawalLeaves(txs))}
	src := &prover.ReferenceSource{State: st, Options: l2.ApplyOptions{ChainID: swapL2Chain}}
	trace, err := src.ApplyBatchWitness(txs)
	if err != nil {
		t.Fatal(err)
	}
	c.NewRoot, c.TraceRoot = trace.PostRoots[n-1], l2.ListRoot(trace.PostRoots)
	data := l2.EncodeBatch(txs)
	if c.DataHash, err = l2.DataHash(data); err != nil {
		t.Fatal(err)
	}
	assigns, err := prover.AssignChunks(vp, &prover.Batch{ChainID: swapL2Chain, BatchNumber: 1, Txs: txs}, trace, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(assigns) != 4 {
		t.Fatalf("%d chunks of %d transactions, want 4", len(assigns), n)
	}
	proofs := proveChunks(t, proverURL, vp, assigns)

	frame, err := chain.CompressBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	p := &chain.SubmitBatch{RollupID: swapRollup, Mode: chain.ModeValidity, Number: 1, PrevRoot: c.PrevRoot.Bytes(),
		NewRoot: c.NewRoot.Bytes(), DepositsBefore: c.DepositsBefore.Bytes(), DepositsAfter: c.DepositsAfter.Bytes(),
		WithdrawalRoot: c.WithdrawalRoot.Bytes(), DataHash: c.DataHash.Bytes(), TraceRoot: c.TraceRoot.Bytes(),
		TxCount: c.TxCount, Data: frame}
	for _, root := range trace.PostRoots {
		p.Trace = append(p.Trace, root.Bytes())
	}
	// Two proofs swapped, then reordered, then in order: refused naming the first wrong chunk,
	// refused, accepted (each submission takes the next nonce, refused or not).
	for i, c := range []struct {
		order     []int
		wantChunk int // -1: accepted
	}{{[]int{0, 2, 1, 3}, 1}, {[]int{1, 2, 3, 0}, 0}, {[]int{0, 1, 2, 3}, -1}} {
		sub := *p
		ordered := make([][]byte, len(c.order))
		for k, j := range c.order {
			ordered[k] = proofs[j]
		}
		if sub.Proof, err = chain.EncodeChunkProofs(ordered); err != nil {
			t.Fatal(err)
		}
		rcpt := submitAndWait(t, cl, seq, uint64(i), &sub)
		if c.wantChunk < 0 {
			if !rcpt.OK {
				t.Fatalf("chunk proofs in order: refused: %s", rcpt.Error)
			}
			continue
		}
		want := fmt.Sprintf("%s: batch 1 chunk %d", chain.ErrBadProof, c.wantChunk)
		if rcpt.OK || !strings.Contains(rcpt.Error, want) {
			t.Fatalf("chunk proofs in order %v: receipt ok=%v %q, want refused with %q", c.order, rcpt.OK, rcpt.Error, want)
		}
	}
	r, err := cl.Rollup(ctx, swapRollup)
	if err != nil {
		t.Fatal(err)
	}
	if r.FinalNumber != 1 || r.FinalRoot != p.NewRoot {
		t.Fatalf("rollup %d: final batch %d, root %x; want batch 1 final at %x", swapRollup, r.FinalNumber, r.FinalRoot, p.NewRoot)
	}
}

// proveChunks proves the chunks' jobs at once on a pool of the prover at url and returns the
// proofs in chunk order, in L1's encoding.
func proveChunks(t *testing.T, url string, vp prover.Params, assigns []*prover.Assignment) [][]byte {
	t.Helper()
	pool, err := proverpool.New(context.Background(), proverpool.Config{Endpoints: []proverpool.Endpoint{{URL: url}}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	proofs := make([][]byte, len(assigns))
	var wg sync.WaitGroup
	for k, a := range assigns {
		job, err := prover.NewJob(fmt.Sprintf("rollup-%d-batch-1-chunk-%d", swapRollup, k), vp, a)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			res, err := pool.Prove(context.Background(), job)
			if err == nil {
				proofs[k], err = prover.MarshalProof(res.Proof)
			}
			if err != nil {
				t.Errorf("chunk %d: %v", k, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return proofs
}

// submitAndWait signs p with key and nonce, submits it and returns its receipt once in a block.
func submitAndWait(t *testing.T, cl *l1client.Client, key *pqkey.PrivateKey, nonce uint64, p *chain.SubmitBatch) chain.Receipt {
	t.Helper()
	ctx := context.Background()
	raw, err := chain.SignTx(key, chain.TxSubmitBatch, e2eL1Chain, nonce, p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := cl.SubmitTx(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var found *chain.Receipt
	next := st.Height + 1
	proctest.WaitFor(t, fmt.Sprintf("the receipt of L1 transaction %s", hash), proctest.Timeout, func() bool {
		now, err := cl.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for ; next <= now.Height && found == nil; next++ {
			rs, err := cl.Receipts(ctx, next)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.TxHash == common.Hash(hash) {
					found = &r
				}
			}
		}
		return found != nil
	})
	return *found
}
