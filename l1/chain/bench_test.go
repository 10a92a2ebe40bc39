package chain

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// BenchmarkBlockOfTransfers measures Execute + Commit of a block of 100 signed transfers
// (ML-DSA-65 verification, state writes, lattice hash, one synced batch on a memory FS).
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
