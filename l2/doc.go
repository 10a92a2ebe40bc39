// Package l2 is the Go reference implementation of the pqbridge L2 state transition
// (docs/protocol.md): Poseidon2 hashing, the transaction encoding and its structural checks,
// EdDSA and ML-DSA-65 transaction signatures (mldsa.go; the interleaved batch data of
// batchdata.go), the sparse Merkle account tree, execution of transactions and
// batches, the batch commitment, and partial states built from Merkle witnesses, on which a
// fraud-proof verifier runs the same execution for one transaction. It is written independently
// of the Zig core, in plain Go on gnark-crypto, and favours obvious correctness over speed: L1
// uses it to judge fraud proofs, and the shared test vectors in testdata/ are generated from it.
package l2

// Limits of docs/protocol.md §3.
const (
	// TxSize is the size of one encoded transaction: five 32-byte field elements, fixed so that
	// every record is bounded before it is decoded.
	TxSize = 160
	// MaxBatchTxs bounds a batch; it is the capacity of the trace and withdrawal trees.
	MaxBatchTxs = 4096
	// ListDepth is the depth of the trace and withdrawal trees: 2^ListDepth = MaxBatchTxs.
	ListDepth = 12
	// DefaultTreeDepth gives 16.7M accounts; circuit cost grows linearly with depth.
	DefaultTreeDepth = 24
	// MinTreeDepth and MaxTreeDepth bound the genesis tree depth; account indices are u32.
	MinTreeDepth = 2
	MaxTreeDepth = 32
)
