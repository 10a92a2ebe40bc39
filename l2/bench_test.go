package l2_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

const (
	benchAccounts  = 100_000
	benchBatchSize = 1024
)

var benchGenesis = sync.OnceValues(func() (*l2.State, *l2test.Workload) {
	w := l2test.NewWorkload(42, l2.DefaultTreeDepth, benchAccounts)
	s, err := l2.NewState(l2.DefaultTreeDepth)
	if err != nil {
		panic(err)
	}
	for _, data := range w.GenesisBatches() {
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			panic(err)
		}
		if r := s.ApplyBatch(txs, l2.ApplyOptions{}); r.Rejected != 0 {
			panic("genesis deposit rejected")
		}
	}
	return s, w
})

// BenchmarkReferenceApplyBatch applies batches of 1,024 valid transfers (signatures not
// verified) to a depth-24 state of 100k accounts. The genesis is built once and not timed.
func BenchmarkReferenceApplyBatch(b *testing.B) {
	s, w := benchGenesis()
	batches := make([][]l2.Tx, 0, b.N)
	for range b.N {
		txs, err := l2.DecodeBatch(w.TransferBatch(benchBatchSize))
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, txs)
	}
	b.ResetTimer()
	for i := range b.N {
		if r := s.ApplyBatch(batches[i], l2.ApplyOptions{}); r.Rejected != 0 {
			b.Fatalf("%d transfers rejected", r.Rejected)
		}
	}
	b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkPoseidon2CompressGnark is one gnark-crypto Compress through its bytes API.
func BenchmarkPoseidon2CompressGnark(b *testing.B) {
	perm := poseidon2.NewPermutation(2, 6, 50)
	r := rand.New(rand.NewChaCha8([32]byte{}))
	x, y := randElement(r), randElement(r)
	left, right := x.Bytes(), y.Bytes()
	for b.Loop() {
		if _, err := perm.Compress(left[:], right[:]); err != nil {
			b.Fatal(err)
		}
	}
}

var sink fr.Element

// BenchmarkCompress is l2.Compress on field elements, one pair per op like the gnark benchmark
// (independent calls: a chain of dependent calls measures latency instead).
func BenchmarkCompress(b *testing.B) {
	r := rand.New(rand.NewChaCha8([32]byte{}))
	x, y := randElement(r), randElement(r)
	for b.Loop() {
		sink = l2.Compress(x, y)
	}
}

// BenchmarkHashMD hashes three elements, the size of an account leaf.
func BenchmarkHashMD(b *testing.B) {
	r := rand.New(rand.NewChaCha8([32]byte{}))
	in := []fr.Element{randElement(r), randElement(r), randElement(r)}
	for b.Loop() {
		sink = l2.HashMD(in...)
	}
}

// BenchmarkVerifyTx verifies one signed transfer, signed message and challenge hash included.
func BenchmarkVerifyTx(b *testing.B) {
	k := testKey(b, 1)
	tx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4}
	if err := l2.SignTx(k, 1, &tx); err != nil {
		b.Fatal(err)
	}
	pk := k.Public()
	for b.Loop() {
		if !l2.VerifyTx(pk, 1, &tx) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyGnark is gnark-crypto's eddsa Verify of the same signature, for comparison:
// it also decompresses R and checks that the key and R are in the prime-order subgroup.
func BenchmarkVerifyGnark(b *testing.B) {
	k := testKey(b, 1)
	tx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4}
	if err := l2.SignTx(k, 1, &tx); err != nil {
		b.Fatal(err)
	}
	pub, sig := gnarkKeyAndSig(k.Public(), &tx)
	m := l2.SignedMessage(1, &tx)
	msg := m.Bytes()
	for b.Loop() {
		if ok, err := pub.Verify(sig, msg[:], poseidon2.NewMerkleDamgardHasher()); !ok || err != nil {
			b.Fatal("signature does not verify", err)
		}
	}
}

// BenchmarkNewStateFromAccounts builds a depth-24 state of 10k accounts at random indices
// bottom-up, against the same accounts inserted one at a time by deposits.
func BenchmarkNewStateFromAccounts(b *testing.B) {
	const n = 10_000
	s, err := l2.NewState(l2.DefaultTreeDepth)
	if err != nil {
		b.Fatal(err)
	}
	for _, data := range l2test.NewWorkload(7, l2.DefaultTreeDepth, n).GenesisBatches() {
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			b.Fatal(err)
		}
		s.ApplyBatch(txs, l2.ApplyOptions{})
	}
	accounts := s.Accounts()
	b.Run("bottom-up", func(b *testing.B) {
		for b.Loop() {
			if _, err := l2.NewStateFromAccounts(l2.DefaultTreeDepth, accounts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deposits", func(b *testing.B) {
		for b.Loop() {
			s, _ := l2.NewState(l2.DefaultTreeDepth)
			for _, a := range accounts {
				tx := l2.Tx{Type: l2.TxDeposit, From: a.Index, Amount: a.Account.Balance, PubKey: a.Account.PubKey}
				s.Apply(&tx, l2.ApplyOptions{})
			}
		}
	})
}
