// Package settlement is the settlement engine: it groups the sequencer's L2 blocks into batches
// (at most a size and an age), re-executes each batch on its own copy of the L2 state to get its
// trace (docs/protocol.md §8.2), builds the commitment (§8.6) and the zstd-compressed data,
// chooses validity or optimistic mode per batch, and posts it to a settlement Target with
// idempotent retries. Every batch is tracked in pebble from built to posted, in its window or
// proven, finalized — or reverted by a fraud proof, after which the engine posts the batches
// again from the last valid root. A batch record it cannot store, or a batch it cannot build,
// halts it (Err) rather than let it go on from a memory its store does not hold.
// docs/settlement.md describes the design.
package settlement
