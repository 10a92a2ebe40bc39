// Package chain is the L1 settlement state machine: Apply(block) over a pebble store gives a
// state root, receipts and events, with no clock (time is the block height and the producer's
// header timestamp), no randomness and no map order in any result. It holds L1 accounts, the
// registered rollups with their deposit queues and bridge escrow, accepts validity and
// optimistic batches, judges fraud proofs, pays withdrawal claims through each rollup's governor,
// and runs the exodus escape hatch. Each block is one synced pebble batch: after a crash it is
// applied fully or not at all. The layouts and rules are in docs/l1.md.
package chain
