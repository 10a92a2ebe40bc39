package prover

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// benchParams are the production parameters, depth 24 and 16 slots; PQBRIDGE_BENCH_BATCH
// overrides the slot count (to measure smaller batches and extrapolate).
func benchParams(b *testing.B) Params {
	p := Params{Depth: l2.DefaultTreeDepth, BatchSize: 16}
	if s := os.Getenv("PQBRIDGE_BENCH_BATCH"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		p.BatchSize = n
	}
	return p
}

// benchKeys loads the keys of p from the git-ignored key cache (.cache/prover-keys at the
// repository root, or $PQBRIDGE_KEY_CACHE), making them with a dev setup the first time or when
// the circuit changed: a depth-24, 16-slot setup takes minutes.
func benchKeys(b *testing.B, p Params) *Keys {
	b.Helper()
	root := os.Getenv("PQBRIDGE_KEY_CACHE")
	if root == "" {
		root = filepath.Join("..", ".cache", "prover-keys")
	}
	progress := NewProgress(os.Stderr)
	k, err := LoadOrDevSetup(root, p, progress)
	if errors.Is(err, ErrStaleKeys) {
		if err := os.RemoveAll(KeyDir(root, p)); err != nil {
			b.Fatal(err)
		}
		k, err = LoadOrDevSetup(root, p, progress)
	}
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// transferAssignment is a full batch of signed transfers among B accounts at random indices,
// after a batch of deposits that creates them.
func transferAssignment(b *testing.B, p Params) *Assignment {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	s, err := l2.NewState(p.Depth)
	if err != nil {
		b.Fatal(err)
	}
	src := &ReferenceSource{State: s}
	signers := make([]*l2test.Signer, p.BatchSize)
	indices := make([]uint32, p.BatchSize)
	deposits := make([]l2.Tx, p.BatchSize)
	for i := range signers {
		signers[i] = l2test.NewSigner(big.NewInt(int64(500 + i)))
		indices[i] = uint32(rng.Uint64N(1 << p.Depth))
		deposits[i] = l2.Tx{Type: l2.TxDeposit, From: indices[i], Amount: 1 << 40, PubKey: signers[i].Public()}
	}
	if _, err := src.ApplyBatchWitness(deposits); err != nil {
		b.Fatal(err)
	}
	transfers := make([]l2.Tx, p.BatchSize)
	for i := range transfers {
		transfers[i] = l2.Tx{Type: l2.TxTransfer, From: indices[i], To: indices[(i+1)%p.BatchSize], Amount: uint64(1000 + i)}
		signers[i].Sign(testChainID, &transfers[i], l2test.TorsionPoint(1))
	}
	tr, err := src.ApplyBatchWitness(transfers)
	if err != nil {
		b.Fatal(err)
	}
	a, err := Assign(p, &Batch{ChainID: testChainID, BatchNumber: 2, Txs: transfers}, tr)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkProveBatch proves a full batch of transfers at depth 24 (make bench). The key
// setup is cached on disk; the first run makes it.
func BenchmarkProveBatch(b *testing.B) {
	p := benchParams(b)
	k := benchKeys(b, p)
	a := transferAssignment(b, p)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Prove(k, a, nil); err != nil {
			b.Fatal(err)
		}
	}
	perTx := b.Elapsed().Seconds() / float64(b.N*p.BatchSize)
	b.ReportMetric(perTx, "s/tx")
	b.ReportMetric(1/perTx, "tx/s")
	b.ReportMetric(float64(k.CS.GetNbConstraints()), "constraints")
}

// BenchmarkVerifyBatch verifies a batch proof as L1 does.
func BenchmarkVerifyBatch(b *testing.B) {
	p := benchParams(b)
	k := benchKeys(b, p)
	a := transferAssignment(b, p)
	proof, err := Prove(k, a, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := a.Commitment.Hash()
	b.ResetTimer()
	for b.Loop() {
		if err := Verify(k.VK, h, proof); err != nil {
			b.Fatal(err)
		}
	}
}
