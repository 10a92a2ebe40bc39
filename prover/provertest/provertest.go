// Package provertest makes what the tests of the prover's network roles (prover/proverapi,
// prover/proverpool) share: dev keys made once per test binary, and jobs of real batches
// proven from genesis. It is for tests only: dev keys are not secure.
package provertest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
)

// Params are tiny parameters (the dev setup takes seconds, a proof well under one); under
// -short the smallest the protocol allows.
func Params() prover.Params {
	if testing.Short() {
		return prover.Params{Depth: l2.MinTreeDepth, BatchSize: 1}
	}
	return prover.Params{Depth: 4, BatchSize: 2}
}

type devKeys struct {
	once sync.Once
	keys *prover.Keys
	err  error
}

var keysByParams sync.Map // prover.Params -> *devKeys

// Keys runs the dev setup of p once per test binary.
func Keys(t testing.TB, p prover.Params) *prover.Keys {
	t.Helper()
	v, _ := keysByParams.LoadOrStore(p, &devKeys{})
	k := v.(*devKeys)
	k.once.Do(func() { k.keys, k.err = prover.DevSetup(p, nil) })
	if k.err != nil {
		t.Fatal(k.err)
	}
	return k.keys
}

// Jobs returns jobs of n consecutive batches of p from genesis on chain chainID: deposits
// first, then signed transfers between the deposited accounts.
func Jobs(t testing.TB, p prover.Params, chainID uint64, n int) []*prover.Job {
	t.Helper()
	st, err := l2.NewState(p.Depth)
	if err != nil {
		t.Fatal(err)
	}
	src := &prover.ReferenceSource{State: st, Options: l2.ApplyOptions{ChainID: chainID}}
	var (
		keys   []*l2.PrivateKey
		nonces []uint64
		dq     fr.Element
		jobs   []*prover.Job
	)
	for b := range n {
		var txs []l2.Tx
		for len(txs) < p.BatchSize {
			if len(keys) < 2 {
				k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(len(keys) + 1)}, 64)))
				if err != nil {
					t.Fatal(err)
				}
				keys, nonces = append(keys, k), append(nonces, 0)
				txs = append(txs, l2.Tx{Type: l2.TxDeposit, From: uint32(len(keys) - 1), PubKey: k.Public(), Amount: 1000})
				continue
			}
			from := uint32(len(txs)+b) % 2
			tx := l2.Tx{Type: l2.TxTransfer, From: from, To: 1 - from, Amount: 1, Nonce: nonces[from]}
			nonces[from]++
			if err := l2.SignTx(keys[from], chainID, &tx); err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
		tr, err := src.ApplyBatchWitness(txs)
		if err != nil {
			t.Fatal(err)
		}
		a, err := prover.Assign(p, &prover.Batch{ChainID: chainID, BatchNumber: uint64(b + 1), DepositsBefore: dq, Txs: txs}, tr)
		if err != nil {
			t.Fatal(err)
		}
		dq = a.Commitment.DepositsAfter
		job, err := prover.NewJob(fmt.Sprintf("batch-%d", b+1), p, a)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job)
	}
	return jobs
}
