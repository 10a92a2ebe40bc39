package fraud_test

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

// benchWorld is a depth-24 state with signers at indices 1 and 2 among 10,000 other accounts,
// so that witnesses have non-empty siblings down to the lower levels.
func benchWorld(b *testing.B) *world {
	b.Helper()
	w := newWorld(b, l2.DefaultTreeDepth, 1<<40, 1<<40)
	accs := w.state.Accounts()
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[uint32]bool{1: true, 2: true}
	for len(accs) < 10_002 {
		i := uint32(rng.Uint64N(1 << l2.DefaultTreeDepth))
		if !seen[i] {
			seen[i] = true
			accs = append(accs, l2.IndexedAccount{Index: i, Account: l2.Account{PubKey: accs[0].Account.PubKey, Balance: 1}})
		}
	}
	slices.SortFunc(accs, func(a, b l2.IndexedAccount) int { return cmp.Compare(a.Index, b.Index) })
	var err error
	if w.state, err = l2.NewStateFromAccounts(l2.DefaultTreeDepth, accs); err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkJudge measures L1's fraud-proof verification, decoding included, at the default
// depth 24. The step proofs take the longest path: the transaction succeeds (its signature is
// verified) and the root it gives is compared. The withdrawal root proof's cost grows with the
// batch; it is measured for the largest batch, 4096 withdraws.
func BenchmarkJudge(b *testing.B) {
	w := benchWorld(b)
	var transfers []l2.Tx
	for k := range 64 {
		transfers = append(transfers, w.transfer(1, 2, 1, uint64(k)))
	}
	// A wrong root at step 32 (transfer) and at the last step (a withdraw).
	transfers = append(transfers, w.withdraw(2, 10, 0))
	honest := commit(b, w.state, transfers, signOpts)
	stepCase := func(k int) *fraud.Case {
		bad := *honest
		bad.trace = append(bad.trace[:0:0], honest.trace...)
		bad.trace[k] = elem(1)
		fb := seal(b, w.state, bad.data, bad.trace, bad.c.NewRoot, bad.c.WithdrawalRoot)
		p, err := fb.build()
		if err != nil || p.Kind != fraud.KindStep || p.Step != uint64(k) {
			b.Fatalf("Build: %+v %v", p, err)
		}
		return fb.fraudCase(p.Encode())
	}
	finalCase := func() *fraud.Case {
		fb := seal(b, w.state, honest.data, honest.trace, elem(1), honest.c.WithdrawalRoot)
		p, err := fb.build()
		if err != nil || p.Kind != fraud.KindFinalRoot {
			b.Fatalf("Build: %+v %v", p, err)
		}
		return fb.fraudCase(p.Encode())
	}
	withdrawalCase := func() *fraud.Case {
		txs := make([]l2.Tx, l2.MaxBatchTxs)
		for k := range txs {
			txs[k] = l2.Tx{Type: l2.TxWithdraw, From: 1, Amount: uint64(k), Nonce: uint64(k), Address: [20]byte{19: byte(k)}}
		}
		fb := commit(b, w.state, txs, l2.ApplyOptions{ChainID: testChainID})
		fb.c.WithdrawalRoot = elem(1)
		p := &fraud.Proof{Kind: fraud.KindWithdrawalRoot, Batch: testBatch}
		return fb.fraudCase(p.Encode())
	}
	for _, bc := range []struct {
		name string
		c    *fraud.Case
	}{
		{"step/transfer/depth=24", stepCase(32)},
		{"step/withdraw/depth=24", stepCase(64)},
		{"final-root", finalCase()},
		{"withdrawal-root/txs=4096", withdrawalCase()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var j fraud.Judge
			for b.Loop() {
				if ok, err := j.Judge(bc.c); !ok || err != nil {
					b.Fatalf("%v %v", ok, err)
				}
			}
		})
	}
}

// BenchmarkJudgeMLDSA measures L1's verification of a step proof of an ML-DSA transaction (issue
// 17) against the same step of an EdDSA one, in the same run, at depth 24 in a batch of 64
// transfers and a withdraw: the ML-DSA proof carries the key and the signature (8 KB), the
// judge splits the interleaved batch data, checks the key's hash and the signature's digest and
// verifies ML-DSA-65 where the EdDSA step verifies EdDSA.
func BenchmarkJudgeMLDSA(b *testing.B) {
	w := benchWorld(b)
	pq := &pqWorld{world: w, pq: mldsaKey(1), keys: l2.KeyMap{}}
	pk := pq.keys.Add(pq.pq.Public().Bytes())
	if r := w.state.ApplyBatch([]l2.Tx{{Type: l2.TxDeposit, From: 3, Amount: 1 << 40, PubKey: pk}}, signOpts); r.Rejected != 0 {
		b.Fatalf("setup: %v", r.Statuses)
	}
	stepCase := func(txs []l2.Tx, k int) *fraud.Case {
		honest := commit(b, w.state, txs, pq.opts())
		trace := append(honest.trace[:0:0], honest.trace...)
		trace[k] = elem(1)
		fb := seal(b, w.state, honest.data, trace, honest.c.NewRoot, honest.c.WithdrawalRoot)
		p, err := fraud.Build(fb.pre.Clone(), &fb.c, fb.data, fb.trace, pq.keys)
		if err != nil || p.Kind != fraud.KindStep || p.Step != uint64(k) {
			b.Fatalf("Build: %+v %v", p, err)
		}
		enc := p.Encode()
		b.Logf("step proof at %d: %d bytes; batch data %d bytes", k, len(enc), len(fb.data))
		return fb.fraudCase(enc)
	}
	var ed, ml []l2.Tx
	for k := range 64 {
		ed = append(ed, w.transfer(1, 2, 1, uint64(k)))
		ml = append(ml, pq.pqTransfer(b, pq.pq, 2, 1, uint64(k)))
	}
	ed = append(ed, w.withdraw(2, 10, 0))
	ml = append(ml, pq.pqWithdraw(b, 10, 64))
	for _, bc := range []struct {
		name string
		c    *fraud.Case
	}{
		{"step/transfer/eddsa/depth=24", stepCase(ed, 32)},
		{"step/transfer/mldsa/depth=24", stepCase(ml, 32)},
		{"step/withdraw/eddsa/depth=24", stepCase(ed, 64)},
		{"step/withdraw/mldsa/depth=24", stepCase(ml, 64)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var j fraud.Judge
			for b.Loop() {
				if ok, err := j.Judge(bc.c); !ok || err != nil {
					b.Fatalf("%v %v", ok, err)
				}
			}
		})
	}
}
