package l1client

import (
	"context"
	"fmt"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/stateproof"
	"github.com/pqbridge/pqbridge/l2"
)

// maxBatchFrame bounds a proven batch data value: the zstd frame of a batch that did not
// compress at all is at most the decompressed bound plus its frame overhead, and no submitted
// transaction is larger than l1api.MaxTxSize.
const maxBatchFrame = l1api.MaxTxSize

// maxTraceBytes bounds a proven trace: l2.MaxBatchTxs roots of 32 bytes, as l1/chain stores it.
const maxTraceBytes = l2.MaxBatchTxs * 32

// provenRaw reads one raw (not RLP) value proven at the newest certified height of at least
// v.min; an absent key is l1api.ErrNotFound naming what. It returns the height too.
func (v Verified) provenRaw(ctx context.Context, key []byte, limit int, what string) ([]byte, uint64, error) {
	r, err := v.proven(ctx, 0, key)
	if err != nil {
		return nil, 0, err
	}
	e := &r.Entries[0]
	if !e.Present {
		return nil, r.Height, notFound(r, "%s", what)
	}
	if len(e.Value) > limit {
		return nil, r.Height, fmt.Errorf("%w: height %d: %s of %d bytes, at most %d", ErrProof, r.Height, what, len(e.Value), limit)
	}
	return e.Value, r.Height, nil
}

// BatchData returns the zstd frame of a batch's data as submitted (l1api.DecompressBatch), as
// l1/chain stores it under stateproof.BatchDataKey, proven.
func (v Verified) BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error) {
	b, _, err := v.provenRaw(ctx, stateproof.BatchDataKey(rollupID, number), maxBatchFrame,
		fmt.Sprintf("data of batch %d of rollup %d", number, rollupID))
	return b, err
}

// BatchTrace returns the trace of a pending optimistic batch, proven: l1/chain stores the state
// roots after each transaction back to back, 32 bytes each, and deletes them when the batch
// finalizes or is reverted (then l1api.ErrNotFound).
func (v Verified) BatchTrace(ctx context.Context, rollupID, number uint64) ([][32]byte, error) {
	what := fmt.Sprintf("trace of batch %d of rollup %d", number, rollupID)
	b, h, err := v.provenRaw(ctx, stateproof.BatchTraceKey(rollupID, number), maxTraceBytes, what)
	if err != nil {
		return nil, err
	}
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("%w: height %d: %s of %d bytes, not a multiple of 32", ErrProof, h, what, len(b))
	}
	trace := make([][32]byte, len(b)/32)
	for k := range trace {
		trace[k] = [32]byte(b[32*k:])
	}
	return trace, nil
}

// RollupAt returns a registered rollup proven at the newest certified height of at least
// v.min, and that height: a caller checking the rollup's head against what it saw knows which
// height the head is proven at.
func (v Verified) RollupAt(ctx context.Context, rollupID uint64) (*l1api.Rollup, uint64, error) {
	r, err := v.proven(ctx, 0, stateproof.RollupKey(rollupID))
	if err != nil {
		return nil, 0, err
	}
	var out l1api.Rollup
	ok, err := decode(r, 0, &out)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, notFound(r, "rollup %d", rollupID)
	}
	return &out, r.Height, nil
}
