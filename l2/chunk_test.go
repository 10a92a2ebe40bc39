package l2_test

import (
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// chunkBatch is a batch of 7 transactions (deposits, transfers, withdraws, all with status ok)
// applied to a state with one account, with its commitment (docs §8.6) and trace.
func chunkBatch(t *testing.T) (*l2.State, []l2.Tx, l2.Commitment, []fr.Element) {
	t.Helper()
	pkA, pkB := l2.PublicKey{X: elem(1), Y: elem(2)}, l2.PublicKey{X: elem(3), Y: elem(4)}
	pre := newState(t, 4, deposit(pkA, 1, 1000))
	txs := []l2.Tx{deposit(pkA, 1, 100), deposit(pkB, 2, 50), transfer(1, 2, 10, 0), withdraw(2, 5, 0),
		deposit(pkA, 1, 7), transfer(2, 1, 3, 1), withdraw(1, 4, 1)}
	c := batchCommitment(t, pre.Clone(), txs, elem(99), 9)
	s := pre.Clone()
	res := s.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID})
	return pre, txs, c, res.PostRoots
}

// batchCommitment executes txs on s (every one must succeed) and returns their §8.6 commitment
// from dq_before dq, computed from ApplyBatch's results, independently of ChunkCommitments.
func batchCommitment(t *testing.T, s *l2.State, txs []l2.Tx, dq fr.Element, number uint64) l2.Commitment {
	t.Helper()
	c := l2.Commitment{ChainID: testChainID, BatchNumber: number, PrevRoot: s.Root(), DepositsBefore: dq,
		TxCount: uint64(len(txs))}
	res := s.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID})
	for k, st := range res.Statuses {
		if st != l2.StatusOK {
			t.Fatalf("transaction %d: %v", k, st)
		}
		if txs[k].Type.ConsumesDeposit() {
			dq = l2.NextDepositChain(dq, l2.DepositHash(txs[k].PubKey, txs[k].Amount))
		}
	}
	dh, err := l2.DataHash(l2.EncodeBatch(txs))
	if err != nil {
		t.Fatal(err)
	}
	c.NewRoot, c.DepositsAfter, c.WithdrawalRoot, c.DataHash, c.TraceRoot =
		res.FinalRoot, dq, res.WithdrawalRoot, dh, res.TraceRoot
	return c
}

func TestChunkCommitments(t *testing.T) {
	pre, txs, c, trace := chunkBatch(t)
	for _, tc := range []struct {
		b     int
		sizes []uint64
		// hashes pins commitment_hash of each chunk: a change of the rule of docs §8.8 shows here.
		hashes []string
	}{
		{b: 1, sizes: []uint64{1, 1, 1, 1, 1, 1, 1}},
		{b: 2, sizes: []uint64{2, 2, 2, 1}},
		{b: 3, sizes: []uint64{3, 3, 1}, hashes: []string{
			"21200423350517329571352171639904110697247894250847847250188360451853070528161",
			"4947025186704977005713172109889145272238011386932347393001327574709024005088",
			"9504541182414923147675657657134732651256700720399161206092465499300539589987"}},
		{b: 7, sizes: []uint64{7}},
		{b: 16, sizes: []uint64{7}},
	} {
		chunks, err := l2.ChunkCommitments(&c, txs, trace, tc.b)
		if err != nil {
			t.Fatalf("b=%d: %v", tc.b, err)
		}
		if len(chunks) != len(tc.sizes) || len(chunks) != l2.ChunkCount(len(txs), tc.b) {
			t.Fatalf("b=%d: %d chunks, want %d", tc.b, len(chunks), len(tc.sizes))
		}
		// Each chunk is the commitment of its sub-list executed on the state after the earlier
		// chunks, from the deposit chain after their deposits.
		s, dq, lo := pre.Clone(), c.DepositsBefore, 0
		for k, ch := range chunks {
			if ch.TxCount != tc.sizes[k] {
				t.Fatalf("b=%d chunk %d: %d transactions, want %d", tc.b, k, ch.TxCount, tc.sizes[k])
			}
			hi := lo + int(ch.TxCount)
			want := batchCommitment(t, s, txs[lo:hi], dq, c.BatchNumber)
			if ch != want {
				t.Fatalf("b=%d chunk %d:\n got %+v\nwant %+v", tc.b, k, ch, want)
			}
			if k > 0 && (ch.PrevRoot != chunks[k-1].NewRoot || ch.DepositsBefore != chunks[k-1].DepositsAfter) {
				t.Fatalf("b=%d chunk %d does not start where chunk %d ends", tc.b, k, k-1)
			}
			if tc.hashes != nil {
				h := ch.Hash()
				if got := h.String(); got != tc.hashes[k] {
					t.Errorf("b=%d chunk %d: commitment hash %s, want %s", tc.b, k, got, tc.hashes[k])
				}
			}
			dq, lo = want.DepositsAfter, hi
		}
		if last := chunks[len(chunks)-1]; last.NewRoot != c.NewRoot || last.DepositsAfter != c.DepositsAfter {
			t.Fatalf("b=%d: the last chunk does not end at the batch's new root and dq_after", tc.b)
		}
		if tc.b >= len(txs) && chunks[0] != c {
			t.Fatalf("b=%d: the single chunk is not the batch's commitment", tc.b)
		}
	}
}

func TestChunkCommitmentsRefuses(t *testing.T) {
	_, txs, c, trace := chunkBatch(t)
	many := make([]l2.Tx, l2.MaxChunks+1)
	manyTrace := make([]fr.Element, len(many))
	for _, tc := range []struct {
		name  string
		edit  func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int)
		error string
	}{
		{"zero batch size", func(*l2.Commitment) ([]l2.Tx, []fr.Element, int) { return txs, trace, 0 }, "circuit batch size 0"},
		{"short trace", func(*l2.Commitment) ([]l2.Tx, []fr.Element, int) { return txs, trace[1:], 2 }, "trace of 6"},
		{"count", func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int) { c.TxCount++; return txs, trace, 2 }, "commitment counts 8"},
		{"empty", func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int) { c.TxCount = 0; return nil, nil, 2 }, "chunks of 0 transactions"},
		{"too many chunks", func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int) {
			c.TxCount = uint64(len(many))
			return many, manyTrace, 1
		}, "make 65 chunks of 1, at most 64"},
		{"new root", func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int) { c.NewRoot = trace[5]; return txs, trace, 2 }, "new root"},
		{"withdrawal root", func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int) { c.WithdrawalRoot = elem(1); return txs, trace, 2 }, "withdrawal root"},
		{"dq_after", func(c *l2.Commitment) ([]l2.Tx, []fr.Element, int) {
			c.DepositsAfter = c.DepositsBefore
			return txs, trace, 2
		}, "dq_after"},
	} {
		bad := c
		x, tr, b := tc.edit(&bad)
		_, err := l2.ChunkCommitments(&bad, x, tr, b)
		if err == nil || !strings.Contains(err.Error(), tc.error) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.error)
		}
	}
}

// BenchmarkChunkCommitments: what L1 derives for a chunked validity batch of 1,024 transfers in
// 64 chunks of 16 (docs §8.8): the chunk data hashes, list roots and deposit chain, and the checks
// of the batch's new root and withdrawal root. The trace is arbitrary: only its roots are read.
func BenchmarkChunkCommitments(b *testing.B) {
	const n, size = 1024, 16
	txs := make([]l2.Tx, n)
	trace := make([]fr.Element, n)
	for k := range txs {
		txs[k] = transfer(uint32(k), uint32(k+1), 1, 0)
		trace[k] = elem(uint64(k) + 1)
	}
	c := l2.Commitment{ChainID: testChainID, BatchNumber: 1, NewRoot: trace[n-1], TxCount: n,
		WithdrawalRoot: l2.ListRoot(l2.WithdrawalLeaves(txs))}
	b.ResetTimer()
	for b.Loop() {
		if _, err := l2.ChunkCommitments(&c, txs, trace, size); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/tx")
}
