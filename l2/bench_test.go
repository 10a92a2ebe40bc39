package l2_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
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
	benchSeed      = 42
)

var benchGenesis = sync.OnceValues(func() (*l2.State, *l2test.Workload) {
	w := l2test.NewWorkload(benchSeed, l2.DefaultTreeDepth, benchAccounts)
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
	applyTransferBatches(b, benchBatchSize)
}

// BenchmarkReferenceApplyBatchSizes mirrors ffi's BenchmarkCoreApplyBatchSizes (same sizes,
// same ns/tx metric, the same kind of state) so make bench can set the two side by side.
func BenchmarkReferenceApplyBatchSizes(b *testing.B) {
	for _, size := range []int{1, 4, 16, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("txs=%d", size), func(b *testing.B) {
			applyTransferBatches(b, size)
		})
	}
}

// applyTransferBatches applies b.N pre-generated batches of size transfers each (generation not
// timed) to the shared genesis state and reports throughput.
func applyTransferBatches(b *testing.B, size int) {
	s, w := benchGenesis()
	batches := make([][]l2.Tx, 0, b.N)
	for range b.N {
		txs, err := l2.DecodeBatch(w.TransferBatch(size))
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
	b.StopTimer()
	txs := float64(b.N * size)
	b.ReportMetric(txs/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/txs, "ns/tx")
}

// BenchmarkReferenceRestore is the reference executor's restart: the depth-24 state rebuilt
// bottom-up from a snapshot's accounts (l2.NewStateFromAccounts), for the account counts of
// ffi's BenchmarkCoreRestore. heap_MB is the Go heap the state holds once built.
func BenchmarkReferenceRestore(b *testing.B) {
	for _, n := range []int{1 << 14, 1 << 17, 1 << 20} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			accounts := workloadAccounts(n)
			var heap float64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				before := heapInUse()
				b.StartTimer()
				s, err := l2.NewStateFromAccounts(l2.DefaultTreeDepth, accounts)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				heap = max(heap, heapInUse()-before)
				runtime.KeepAlive(s)
				b.StartTimer()
			}
			b.ReportMetric(heap/(1<<20), "heap_MB")
		})
	}
}

// workloadAccounts returns the genesis accounts of a depth-24 workload of n accounts, sorted
// by index as a snapshot holds them.
func workloadAccounts(n int) []l2.IndexedAccount {
	var accounts []l2.IndexedAccount
	for _, data := range l2test.NewWorkload(benchSeed, l2.DefaultTreeDepth, n).GenesisBatches() {
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			panic(err)
		}
		for _, tx := range txs {
			accounts = append(accounts, l2.IndexedAccount{Index: tx.From, Account: l2.Account{PubKey: tx.PubKey, Balance: tx.Amount}})
		}
	}
	slices.SortFunc(accounts, func(x, y l2.IndexedAccount) int { return cmp.Compare(x.Index, y.Index) })
	return accounts
}

// heapInUse is the live Go heap after a collection, in bytes.
func heapInUse() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
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

// BenchmarkVerifyMLDSA verifies one signed transfer_mldsa as the reference does (signed
// message, signature digest, key parsing and ML-DSA-65), against BenchmarkVerifyTx.
func BenchmarkVerifyMLDSA(b *testing.B) {
	key := mldsaKey(1)
	pub := key.Public().Bytes()
	tx := l2.Tx{Type: l2.TxTransferMLDSA, From: 1, To: 2, Amount: 3, Nonce: 4}
	sig, err := l2.SignMLDSA(key, 1, &tx)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := l2.VerifyMLDSA(pub, 1, &tx, sig); err != nil {
			b.Fatal(err)
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
