package vectors_test

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/vectors"
)

// TestChunkVectors replays the chunk vectors of the committed file as another implementation
// would: decode the batch, recompute its data hash, trace root and the chunk commitments and
// hashes (docs/protocol.md §8.8), compare every value.
func TestChunkVectors(t *testing.T) {
	f, err := vectors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Chunks) == 0 {
		t.Fatal("no chunk vectors")
	}
	for _, v := range f.Chunks {
		txs, err := l2.DecodeBatch(v.Txs)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		c := v.Commitment.L2()
		trace := make([]fr.Element, len(v.Trace))
		for k := range trace {
			trace[k] = fr.Element(v.Trace[k])
		}
		if h, dh, tr := c.Hash(), l2.TxsDataHash(txs), l2.ListRoot(trace); !eq(h, v.Commitment.Hash) || dh != c.DataHash || tr != c.TraceRoot {
			t.Fatalf("%s: the batch's commitment hash, data hash or trace root differs", v.Name)
		}
		chunks, err := l2.ChunkCommitments(&c, txs, trace, v.BatchSize)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if len(chunks) != len(v.Chunks) || len(chunks) != l2.ChunkCount(len(txs), v.BatchSize) {
			t.Fatalf("%s: %d chunks, the file has %d", v.Name, len(chunks), len(v.Chunks))
		}
		for k := range chunks {
			if got := vectors.NewCommitment(&chunks[k]); got != v.Chunks[k] {
				t.Errorf("%s: chunk %d:\n got %+v\nwant %+v", v.Name, k, got, v.Chunks[k])
			}
		}
	}
}
