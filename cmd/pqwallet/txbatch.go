package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

// txBatch is where an L2 transaction settles on L1: transaction index of batch rec, which for
// a withdraw is its entry of the batch's withdrawal list (docs/protocol.md §8.3).
type txBatch struct {
	rec   *l1api.BatchRecord
	index int
	tx    l2.Tx
}

// findTx finds L2 transaction hash in the data L1 stores with batches first..last (the batches
// the sequencer says hold its block), so that the batch and index a claim uses are L1's, not
// the sequencer's word.
func findTx(ctx context.Context, c *l1client.Client, r *l1api.Rollup, first, last uint64, hash common.Hash) (*txBatch, error) {
	for n := first; n <= last && n != 0; n++ { // batches count from 1; a last of 2^64-1 must not wrap
		rec, err := batch(ctx, c, r, n)
		if err != nil {
			return nil, err
		}
		txs, err := batchTxs(ctx, c, r.ID, n)
		if err != nil {
			return nil, err
		}
		for k := range txs {
			if raw := txs[k].Encode(); crypto.Keccak256Hash(raw[:]) == hash {
				return &txBatch{rec: rec, index: k, tx: txs[k]}, nil
			}
		}
	}
	return nil, fmt.Errorf("the sequencer places l2 transaction %s in L1 batches %d..%d, but none of them on L1 holds it (reverted?)", hash.Hex(), first, last)
}

// l1Place is where status tx found a transaction on L1.
type l1Place struct {
	*txBatch
	rollup  *l1api.Rollup
	claimed *bool                   // a withdraw of a final batch: whether L1 has paid it
	delayed *l1api.WithdrawalStatus // a claimed withdraw waiting in the governor's delay queue
	pending string                  // a withdraw of a batch not final yet: when it can finalize
}

// locate finds transaction hash on L1 once the sequencer reports its block in batches L1
// accepted (st is the block's settlement); nil before, and without an L1 validator key
// configured (the sequencer's answer alone is still shown). For a withdraw it asks L1 whether
// the withdrawal was claimed, or says when its batch can finalize.
func (a *app) locate(ctx context.Context, hash common.Hash, st *rollupapi.Status) (*l1Place, error) {
	if st.Batch == nil || st.LastBatch == nil {
		return nil, nil
	}
	if _, err := a.validatorKey(); err != nil && strings.TrimSpace(a.cfg.l1Validators) == "" {
		a.progress("the sequencer places the block in L1 batches %d..%d; finding the transaction there needs L1: %v", uint64(*st.Batch), uint64(*st.LastBatch), err)
		return nil, nil
	}
	c, err := a.l1Client(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := a.rollup(ctx, c)
	if err != nil {
		return nil, err
	}
	tb, err := findTx(ctx, c, r, uint64(*st.Batch), uint64(*st.LastBatch), hash)
	if err != nil {
		return nil, err
	}
	p := &l1Place{txBatch: tb, rollup: r}
	if !tb.tx.Type.IsWithdraw() {
		return p, nil
	}
	if tb.rec.Number <= r.FinalNumber {
		ws, err := c.Withdrawal(ctx, r.ID, tb.rec.Number, uint64(tb.index))
		if err != nil {
			return nil, err
		}
		claimed := ws.Paid()
		p.claimed = &claimed
		if ws.Delayed && !ws.Released {
			p.delayed = ws
		}
		return p, nil
	}
	l1st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	p.pending = notFinal(r, tb.rec, l1st.Height)
	return p, nil
}

// txSettlement reads the receipt of hash and, for a transaction in a block, the settlement of
// its block at the sequencer (nil otherwise); with wait, it first waits for a pending
// transaction's block. A transaction the sequencer does not know is an error.
func (s *sequencerClient) txSettlement(ctx context.Context, hash common.Hash, wait bool) (*rollupapi.Receipt, *rollupapi.Status, error) {
	rc, err := s.receipt(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	if rc == nil {
		return nil, nil, fmt.Errorf("the sequencer %s knows no transaction %s", s.url, hash.Hex())
	}
	if rc.Status == "pending" && wait {
		if rc, err = s.waitReceipt(ctx, hash); err != nil {
			return nil, nil, err
		}
	}
	if !rc.Included {
		return rc, nil, nil
	}
	block := uint64(*rc.Block)
	st, err := s.status(ctx, &block)
	return rc, st, err
}

// waitBatched polls the settlement of block until L1 has accepted the batches holding it.
func (s *sequencerClient) waitBatched(ctx context.Context, block uint64) (*rollupapi.Status, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		st, err := s.status(ctx, &block)
		if err != nil {
			return nil, err
		}
		if st.Batch != nil && st.LastBatch != nil {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("l2 block %d still in no L1 batch (settlement %s): %w", block, st.Settlement, ctx.Err())
		case <-t.C:
		}
	}
}

// withdrawalOf finds the batch and withdrawal-list entry of L2 withdraw hash: the sequencer
// names the batches of its block, L1's batch data the entry. With wait it waits for the
// withdraw to be in a block and that block in batches L1 accepted, up to --timeout.
func (a *app) withdrawalOf(ctx context.Context, c *l1client.Client, r *l1api.Rollup, hash common.Hash, wait bool) (*txBatch, error) {
	seq, err := a.sequencerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer seq.rpc.Close()
	rc, st, err := seq.txSettlement(ctx, hash, wait)
	if err != nil {
		return nil, err
	}
	if !rc.Included {
		return nil, fmt.Errorf("l2 transaction %s is in no block (status %s): nothing to claim", hash.Hex(), rc.Status)
	}
	if st.Batch == nil || st.LastBatch == nil {
		block := uint64(*rc.Block)
		what := fmt.Sprintf("l2 transaction %s is in l2 block %d, which is in no batch on L1 yet (settlement %s)", hash.Hex(), block, st.Settlement)
		if !wait {
			return nil, fmt.Errorf("%s; run again with --wait to wait for it", what)
		}
		a.progress("%s; waiting", what)
		if st, err = seq.waitBatched(ctx, block); err != nil {
			return nil, err
		}
	}
	tb, err := findTx(ctx, c, r, uint64(*st.Batch), uint64(*st.LastBatch), hash)
	if err != nil {
		return nil, err
	}
	if !tb.tx.Type.IsWithdraw() {
		return nil, fmt.Errorf("l2 transaction %s is a %s, not a withdraw: nothing to claim", hash.Hex(), tb.tx.Type)
	}
	return tb, nil
}

// parseTxHash reads an L2 transaction hash: 32 bytes in hex, with or without 0x.
func parseTxHash(s string) (common.Hash, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != common.HashLength {
		return common.Hash{}, fmt.Errorf("transaction hash %q: want 32 bytes in hex", s)
	}
	return common.BytesToHash(b), nil
}

// claimCommandLine is the command that claims withdrawal index of batch n.
func claimCommandLine(n uint64, index int) string {
	return fmt.Sprintf("pqwallet claim --batch %d --index %d", n, index)
}
