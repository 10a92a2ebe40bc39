// Package settlement is the settlement engine: it groups the sequencer's L2 blocks into batches
// (at most a size and an age), builds each batch's commitment (docs/protocol.md §8.6) from the
// trace the sequencer stored with its blocks (§8.2) without executing, checks it asynchronously
// with the Go reference (fatal on a disagreement), compresses the data (zstd),
// chooses validity or optimistic mode per batch, and posts it to a settlement Target with
// idempotent retries. Every batch is tracked in pebble from built to posted, in its window or
// proven, finalized (then pruned into a summary) — or reverted by a fraud proof, after which the
// engine posts the batches again from the last valid root. A batch record it cannot store, or a batch it cannot build,
// halts it (Err) rather than let it go on from a memory its store does not hold.
// docs/settlement.md describes the design.
package settlement
