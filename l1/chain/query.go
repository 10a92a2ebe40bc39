package chain

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// Queries read committed state only — the state of the head that Head returns, never a block
// whose commit has not returned — and are safe to call while a block is executed or committed.

// get reads a key of the committed store.
func (c *Chain) get(key string) ([]byte, bool, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return dbGet(c.reader(), []byte(key))
}

func (c *Chain) read(key string, v any) error {
	b, ok, err := c.get(key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if err := rlp.DecodeBytes(b, v); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrCorruptStore, key, err)
	}
	return nil
}

// Block returns the sealed block at height (block 0 is the genesis header, unsigned).
func (c *Chain) Block(height uint64) (*SealedBlock, error) {
	var b SealedBlock
	return &b, c.read(keyBlock(height), &b)
}

// Receipts returns the receipts of the block at height.
func (c *Chain) Receipts(height uint64) ([]Receipt, error) {
	var r []Receipt
	return r, c.read(keyReceipts(height), &r)
}

// Account returns an L1 account (the zero account if it never received anything).
func (c *Chain) Account(a common.Address) (Account, error) {
	var acct Account
	if err := c.read(keyAccount(a), &acct); err != nil && !isNotFound(err) {
		return acct, err
	}
	return acct, nil
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, ErrNotFound) }

// Rollup returns a registered rollup.
func (c *Chain) Rollup(id uint64) (*Rollup, error) {
	var r Rollup
	return &r, c.read(keyRollup(id), &r)
}

// RollupCount returns how many rollups are registered; their IDs are 1..count.
func (c *Chain) RollupCount() (uint64, error) {
	var n uint64
	if err := c.read(keyRollupCount(), &n); err != nil && !isNotFound(err) {
		return 0, err
	}
	return n, nil
}

// Batch returns an accepted (pending or finalized) batch.
func (c *Chain) Batch(rollupID, number uint64) (*BatchRecord, error) {
	var b BatchRecord
	return &b, c.read(keyBatch(rollupID, number), &b)
}

// BatchData returns the zstd frame of a batch's data as submitted.
func (c *Chain) BatchData(rollupID, number uint64) ([]byte, error) {
	b, ok, err := c.get(keyBatchData(rollupID, number))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: data of batch %d of rollup %d", ErrNotFound, number, rollupID)
	}
	return b, nil
}

// BatchTrace returns the trace of a pending optimistic batch (docs/protocol.md §8.2): the state
// root after each of its transactions, as published with it and checked against its trace root.
// It is deleted when the batch finalizes (only a challenge needs it) or is reverted.
func (c *Chain) BatchTrace(rollupID, number uint64) ([][32]byte, error) {
	b, ok, err := c.get(keyBatchTrace(rollupID, number))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: trace of batch %d of rollup %d", ErrNotFound, number, rollupID)
	}
	trace, err := decodeTrace(b)
	if err != nil {
		return nil, fmt.Errorf("trace of batch %d of rollup %d: %w", number, rollupID, err)
	}
	return trace, nil
}

// decodeTrace splits a stored trace (checkTrace's output) into its roots.
func decodeTrace(b []byte) ([][32]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("%w: trace of %d bytes, not a multiple of 32", ErrCorruptStore, len(b))
	}
	trace := make([][32]byte, len(b)/32)
	for k := range trace {
		trace[k] = [32]byte(b[32*k:])
	}
	return trace, nil
}

// Deposit returns entry j of a rollup's deposit queue.
func (c *Chain) Deposit(rollupID, j uint64) (*DepositEntry, error) {
	var d DepositEntry
	return &d, c.read(keyDeposit(rollupID, j), &d)
}

// Exited reports whether L2 account index of a rollup has been paid by an ExodusWithdrawal
// (each account exits once). A rollup that is not registered is ErrNotFound.
func (c *Chain) Exited(rollupID uint64, index uint32) (bool, error) {
	if _, err := c.Rollup(rollupID); err != nil {
		return false, err
	}
	return c.marked(keyExit(rollupID, index))
}

// Refunded reports whether entry j of a rollup's deposit queue has been paid back to its
// depositor by an ExodusRefund. An entry that does not exist is ErrNotFound.
func (c *Chain) Refunded(rollupID, j uint64) (bool, error) {
	if _, err := c.Deposit(rollupID, j); err != nil {
		return false, err
	}
	return c.marked(keyRefund(rollupID, j))
}

// Claimed reports whether entry index of batch number's withdrawal list has been paid: by its
// ClaimWithdrawal, or, when the governor queued the claim, by the ReleaseDelayed after the delay
// (Withdrawal tells a queued claim apart). A batch L1 does not hold (not submitted, or reverted)
// and an index beyond the batch's transactions are ErrNotFound: the list has an entry per
// transaction.
func (c *Chain) Claimed(rollupID, number, index uint64) (bool, error) {
	s, err := c.Withdrawal(rollupID, number, index)
	if err != nil {
		return false, err
	}
	return s.Paid(), nil
}

// claimMarked reports whether a ClaimWithdrawal of the entry was accepted.
func (c *Chain) claimMarked(rollupID, number, index uint64) (bool, error) {
	b, err := c.Batch(rollupID, number)
	if err != nil {
		return false, err
	}
	if index >= b.TxCount {
		return false, fmt.Errorf("%w: withdrawal %d of batch %d of rollup %d, which has %d transactions", ErrNotFound, index, number, rollupID, b.TxCount)
	}
	return c.marked(keyClaim(rollupID, number, index))
}

// marked reads a spent marker: its presence is the answer.
func (c *Chain) marked(key string) (bool, error) {
	_, ok, err := c.get(key)
	return ok, err
}

// Delayed returns a delayed withdrawal (Released once a ReleaseDelayed paid it).
func (c *Chain) Delayed(rollupID, id uint64) (*DelayedWithdrawal, error) {
	var d DelayedWithdrawal
	return &d, c.read(keyDelayed(rollupID, id), &d)
}

// Global returns the chain-wide bond and burn totals.
func (c *Chain) Global() (Global, error) {
	var g Global
	if err := c.read(keyGlobal(), &g); err != nil && !isNotFound(err) {
		return g, err
	}
	return g, nil
}

// Events returns up to limit events from height on, in log order.
func (c *Chain) Events(fromHeight uint64, limit int) ([]Event, error) {
	c.mu.RLock() // the iterator reads the view it was opened on; mu keeps that view open
	defer c.mu.RUnlock()
	it, err := c.reader().NewIter(&pebble.IterOptions{LowerBound: []byte(u64key(prefixEvent, fromHeight)),
		UpperBound: []byte(prefixEvent[:len(prefixEvent)-1] + "0")}) // '0' follows '/'
	if err != nil {
		return nil, fmt.Errorf("chain: event iterator: %w", err)
	}
	defer it.Close()
	var out []Event
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		var e Event
		if err := rlp.DecodeBytes(it.Value(), &e); err != nil {
			return nil, fmt.Errorf("%w: event: %v", ErrCorruptStore, err)
		}
		out = append(out, e)
	}
	return out, it.Error()
}
