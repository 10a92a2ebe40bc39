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
