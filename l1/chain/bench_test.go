package chain

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

// BenchmarkBlockOfTransfers measures Execute + Commit of a block of 100 signed transfers
// (ML-DSA-65 verification, state writes, state tree update, one synced batch on a memory FS).
func BenchmarkBlockOfTransfers(b *testing.B) {
	h := newHarness(b, 1)
	u := h.users[0]
	const perBlock = 100
	blocks := make([][][]byte, b.N)
	for i := range blocks {
		for range perBlock {
			blocks[i] = append(blocks[i], h.tx(u, TxTransfer, &Transfer{To: common.Address{1}, Amount: 1}))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		r := h.block(blocks[i]...)
		if r.Errs[perBlock-1] != nil {
			b.Fatal(r.Errs[perBlock-1])
		}
	}
	b.ReportMetric(float64(b.N*perBlock)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkChallengeRejectedWorstCase measures what one rejected challenge costs a validator at
// worst: a block holding a withdrawal-root proof against an honest optimistic batch of
// l2.MaxBatchTxs withdraws (envelope, bond, the batch data decompressed, every withdrawal leaf
// and the list root recomputed by fraud.Judge, the bond burned, the block committed).
func BenchmarkChallengeRejectedWorstCase(b *testing.B) {
	h := newHarnessWithJudge(b, 3, fraud.Judge{})
	seq, challenger := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.BatchSize, cfg.ChallengeWindow, cfg.ExodusTimeout, cfg.ChallengeBond = l2.MaxBatchTxs, 1<<20, 1<<21, 1
	s, k := setupFunded(b, h, cfg)
	txs := make([]l2.Tx, l2.MaxBatchTxs)
	for i := range txs {
		txs[i] = withdrawTx(b, k, 7, 1, uint64(i), 1, common.Address{byte(i)})
	}
	p, _ := s.batch(b, h, ModeOptimistic, txs)
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	proof := (&fraud.Proof{Kind: fraud.KindWithdrawalRoot, Batch: p.Number}).Encode()
	raws := make([][]byte, b.N)
	for i := range raws {
		raws[i] = h.tx(challenger, TxChallenge, &Challenge{RollupID: s.id, Batch: p.Number, Proof: proof})
	}
	b.ResetTimer()
	for i := range b.N {
		if r := h.block(raws[i]); !errors.Is(r.Errs[0], ErrFraudNotProven) {
			b.Fatalf("challenge %d: %v", i, r.Errs[0])
		}
	}
}
