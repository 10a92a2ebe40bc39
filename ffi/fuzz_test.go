package ffi

import (
	"math"
	"sync"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
)

// fuzzDepth keeps the fuzzed state small (16 indices), so that random indices often hit
// existing accounts and every account can be compared after each input.
const fuzzDepth = 4

// fuzzGenesis is the state every fuzz input starts from: a few accounts, one at the largest
// balance, so that random transfers, withdraws and deposits reach every status.
var fuzzGenesis = sync.OnceValues(func() ([]byte, *l2.State) {
	txs := []l2.Tx{deposit(0, 0, 1000), deposit(1, 1, math.MaxUint64), deposit(5, 5, 7), deposit(15, 15, 1<<32)}
	ref, err := l2.NewState(fuzzDepth)
	if err != nil {
		panic(err)
	}
	ref.ApplyBatch(txs, l2.ApplyOptions{})
	c, err := New(fuzzDepth, 16)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	var out BatchOutput
	if err := c.ApplyBatch(l2.EncodeBatch(txs), &out); err != nil {
		panic(err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		panic(err)
	}
	return snap, ref
})

// FuzzApplyBatch feeds arbitrary bytes to ApplyBatch on a small state. The core must not crash;
// a rejected batch must leave the root unchanged with the same error class as the reference
// decoder; an accepted batch must give the reference's results and the same accounts.
func FuzzApplyBatch(f *testing.F) {
	for _, tc := range loadVectors(f).Cases {
		for _, b := range tc.Batches {
			f.Add([]byte(b.Txs))
		}
	}
	f.Add(batch(transfer(0, 1, 1, 0), withdraw(15, 3, 1<<32, 0), deposit(1, 1, 1), transfer(5, 5, 7, 0), l2.Tx{}))
	f.Add(batch(deposit(2, 2, 3), transfer(2, 0, 3, 0), transfer(0, 16, 1, 0)))
	f.Add(make([]byte, TxSize))
	f.Add([]byte{})

	snap, genesis := fuzzGenesis()
	genesisRoot := wordOf(genesis.Root())
	// One core serves every input of this process: a new core costs milliseconds (the core
	// reserves its batch scratch), so it is restored from the snapshot only after an input that
	// changed the state. Every input therefore starts from the genesis state.
	var c *Core
	f.Cleanup(func() {
		if c != nil {
			_ = c.Close()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if c == nil {
			var err error
			if c, err = Restore(snap, 16); err != nil {
				t.Fatal(err)
			}
		}
		ref := genesis.Clone()
		var out BatchOutput
		if _, diff := applyBoth(c, ref, data, &out); diff != "" {
			t.Fatal(diff)
		}
		for i := uint32(0); i < 1<<fuzzDepth; i++ {
			if d := compareAccount(c, ref, i); d != "" {
				t.Fatal(d)
			}
		}
		root := mustRoot(t, c)
		if root != wordOf(ref.Root()) {
			t.Fatalf("root core %x, reference %x", root, wordOf(ref.Root()))
		}
		if root != genesisRoot {
			_ = c.Close()
			c = nil
		}
	})
}
