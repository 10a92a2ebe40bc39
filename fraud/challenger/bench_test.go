package challenger

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// benchAccounts is the size of the benchmarks' state: large enough that the witnesses and the
// reference's copy per batch cost what they cost on a real rollup's lower levels.
const (
	benchAccounts = 10_000
	benchSigners  = 64
)

// benchChain makes consecutive batches of signed transfers among benchSigners accounts of a
// depth-24 state of benchAccounts accounts, with their traces from a core of its own.
type benchChain struct {
	genesis []l2.IndexedAccount
	root    fr.Element
	signers []*l2test.Signer
	index   []uint32 // signer j's account
	nonce   []uint64
	seq     *coreExecutor
	number  uint64
	rng     *rand.Rand
}

func newBenchChain(b *testing.B) *benchChain {
	b.Helper()
	const depth = l2.DefaultTreeDepth
	c := &benchChain{rng: rand.New(rand.NewPCG(1, 2)), nonce: make([]uint64, benchSigners)}
	seen := map[uint32]bool{}
	for len(c.genesis) < benchAccounts {
		i := uint32(c.rng.Uint64N(1 << depth))
		if seen[i] {
			continue
		}
		seen[i] = true
		if len(c.signers) < benchSigners {
			s := l2test.NewSigner(big.NewInt(int64(100 + len(c.signers))))
			c.signers, c.index = append(c.signers, s), append(c.index, i)
		}
		pk := c.signers[len(c.index)-1].Public()
		c.genesis = append(c.genesis, l2.IndexedAccount{Index: i, Account: l2.Account{PubKey: pk, Balance: 1 << 40}})
	}
	slices.SortFunc(c.genesis, func(x, y l2.IndexedAccount) int { return cmp.Compare(x.Index, y.Index) })
	st, err := l2.NewStateFromAccounts(depth, c.genesis)
	if err != nil {
		b.Fatal(err)
	}
	c.root = st.Root()
	if c.seq, err = openCore(depth, testChainID, c.genesis, c.root); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.seq.close() })
	return c
}

// open returns an executor of kind at the genesis state.
func (c *benchChain) open(b *testing.B, kind string) executor {
	b.Helper()
	x, err := openExecutor(kind, l2.DefaultTreeDepth, testChainID, c.genesis, c.root)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

// next returns the next batch of n transfers, honest.
func (c *benchChain) next(b *testing.B, n int) *posted {
	b.Helper()
	txs := make([]l2.Tx, n)
	for k := range txs {
		from, to := c.rng.IntN(benchSigners), c.rng.IntN(benchSigners)
		txs[k] = l2.Tx{Type: l2.TxTransfer, From: c.index[from], To: c.index[to], Amount: 1 + c.rng.Uint64N(1000), Nonce: c.nonce[from]}
		c.nonce[from]++
		c.signers[from].Sign(testChainID, &txs[k], l2test.TorsionPoint(1))
	}
	prev, err := c.seq.root()
	if err != nil {
		b.Fatal(err)
	}
	data := l2.EncodeBatch(txs)
	if err := c.seq.core.ApplyBatch(data, &c.seq.out); err != nil || c.seq.out.Rejected != 0 {
		b.Fatalf("sequencer: %v, %d rejected", err, c.seq.out.Rejected)
	}
	out := &c.seq.out
	p := &posted{data: data, trace: make([]fr.Element, n)}
	for k := range p.trace {
		if p.trace[k], err = element(out.PostRoot(k)); err != nil {
			b.Fatal(err)
		}
	}
	dh, _ := l2.DataHash(data)
	c.number++
	p.c = l2.Commitment{ChainID: testChainID, BatchNumber: c.number, PrevRoot: prev, DataHash: dh,
		NewRoot: p.trace[n-1], TraceRoot: l2.ListRoot(p.trace), TxCount: uint64(n)}
	p.c.WithdrawalRoot.SetBytes(out.WithdrawalRoot[:])
	return p
}

// BenchmarkChallengerCheckBatch is the challenger's work on one optimistic batch of signed
// transfers at depth 24 (10,000 accounts), with each executor: re-executing an honest batch
// (core: witnesses of the touched accounts, one ApplyBatch, signatures batch-verified on every
// CPU; reference: fraud.Build on a clone of the state), and detecting a batch whose last trace
// entry is wrong and building its proof (core: the same, then fraud.Build on a partial state;
// reference: as for an honest batch). This is detect-to-submit but for reading the batch from L1
// and signing the challenge (a few ms, measured in settlement's scenarios); the core's reopening
// from the store after a fraud comes after the challenge is sent and is not timed.
//
//	go test ./fraud/challenger -run '^$' -bench CheckBatch -benchtime 5x
func BenchmarkChallengerCheckBatch(b *testing.B) {
	for _, kind := range []string{ExecutorCore, ExecutorReference} {
		for _, n := range []int{64, 256} {
			b.Run(fmt.Sprintf("%s/honest/txs=%d", kind, n), func(b *testing.B) {
				c := newBenchChain(b)
				x := c.open(b, kind)
				defer x.close()
				batches := make([]*posted, b.N)
				for i := range batches {
					batches[i] = c.next(b, n)
				}
				b.ResetTimer()
				for _, p := range batches {
					txs, _ := l2.DecodeBatch(p.data) // as the challenger does for both
					if _, err := x.check(&p.c, p.data, txs, p.trace, nil); !errors.Is(err, fraud.ErrNoFraud) {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/tx")
			})
			b.Run(fmt.Sprintf("%s/fraud-last-step/txs=%d", kind, n), func(b *testing.B) {
				c := newBenchChain(b)
				x := c.open(b, kind)
				defer func() { x.close() }()
				p := c.next(b, n)
				p.trace[n-1].SetUint64(1)
				p.c.NewRoot, p.c.TraceRoot = p.trace[n-1], l2.ListRoot(p.trace)
				b.ResetTimer()
				for range b.N {
					txs, _ := l2.DecodeBatch(p.data)
					proof, err := x.check(&p.c, p.data, txs, p.trace, nil)
					if err != nil || proof.Kind != fraud.KindStep || proof.Step != uint64(n-1) {
						b.Fatalf("%+v %v", proof, err)
					}
					if x.dirty() {
						b.StopTimer()
						x.close()
						x = c.open(b, kind)
						b.StartTimer()
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/tx")
			})
		}
	}
}
