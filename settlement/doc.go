// Package settlement will hold the settlement engine: it groups L2 blocks into batches, builds
// each batch's commitment and compressed data (docs/protocol.md §8), chooses validity or
// optimistic mode per batch, submits to L1 with retries and idempotency, and tracks every batch
// from built to finalized or reverted.
package settlement
