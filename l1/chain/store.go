package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// Key prefixes. Only keys under prefixState are state; the rest is history and bookkeeping that
// the state root does not cover.
const (
	prefixState   = stateproof.PrefixState
	prefixBlock   = "b/" // b/<height> -> SealedBlock
	prefixReceipt = "r/" // r/<height> -> []Receipt
	prefixEvent   = "e/" // e/<height>/<index> -> Event
	keyHead       = "m/head"
)

// entry is a pending write of an overlay: a value or a deletion.
type entry struct {
	value   []byte
	deleted bool
}

// overlay buffers the writes of a block over the committed store, with a nested layer for the
// transaction being applied so that a failing transaction is dropped whole.
type overlay struct {
	db    *pebble.DB
	block map[string]entry
	tx    map[string]entry
}

func newOverlay(db *pebble.DB) *overlay {
	return &overlay{db: db, block: map[string]entry{}, tx: map[string]entry{}}
}

func (o *overlay) get(key string) ([]byte, bool, error) {
	if e, ok := o.tx[key]; ok {
		return e.value, !e.deleted, nil
	}
	if e, ok := o.block[key]; ok {
		return e.value, !e.deleted, nil
	}
	return dbGet(o.db, []byte(key))
}

func dbGet(db pebble.Reader, key []byte) ([]byte, bool, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("chain: reading %q: %w", key, err)
	}
	defer closer.Close()
	return slices.Clone(v), true, nil
}

func (o *overlay) put(key string, v []byte) { o.tx[key] = entry{value: v} }
func (o *overlay) del(key string)           { o.tx[key] = entry{deleted: true} }

func (o *overlay) commitTx() {
	for k, e := range o.tx {
		o.block[k] = e // order-independent: each key is copied once
	}
	clear(o.tx)
}

func (o *overlay) discardTx() { clear(o.tx) }

// getRLP decodes the value at key into v and reports whether it exists.
func (o *overlay) getRLP(key string, v any) (bool, error) {
	b, ok, err := o.get(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := decodeEntry(key, b, v); err != nil {
		return false, err
	}
	return true, nil
}

// decodeEntry decodes the stored value b of key into v; a value that does not decode is a
// corrupt store.
func decodeEntry(key string, b []byte, v any) error {
	if err := rlp.DecodeBytes(b, v); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrCorruptStore, key, err)
	}
	return nil
}

func (o *overlay) putRLP(key string, v any) {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		panic(fmt.Sprintf("chain: encoding %T: %v", v, err)) // our own types always encode
	}
	o.put(key, b)
}

// flush writes the block layer into batch in sorted key order.
func (o *overlay) flush(batch *pebble.Batch) error {
	for _, k := range slices.Sorted(maps.Keys(o.block)) {
		var err error
		if e := o.block[k]; e.deleted {
			err = batch.Delete([]byte(k), nil)
		} else {
			err = batch.Set([]byte(k), e.value, nil)
		}
		if err != nil {
			return fmt.Errorf("chain: batch write: %w", err)
		}
	}
	return nil
}

// Key builders: the state keys are stateproof's (one definition for the chain and its clients),
// the history keys are the chain's. Integers are big-endian so that keys sort by number.
func u64key(prefix string, ns ...uint64) string {
	b := []byte(prefix)
	for i, n := range ns {
		if i > 0 {
			b = append(b, '/')
		}
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return string(b)
}

func keyAccount(a common.Address) string     { return string(stateproof.AccountKey(a)) }
func keyRollupCount() string                 { return string(stateproof.RollupCountKey()) }
func keyRollup(id uint64) string             { return string(stateproof.RollupKey(id)) }
func keyChainID(l2 uint64) string            { return string(stateproof.L2ChainKey(l2)) }
func keyDeposit(id, j uint64) string         { return string(stateproof.DepositKey(id, j)) }
func keyBatch(id, n uint64) string           { return string(stateproof.BatchKey(id, n)) }
func keyBatchData(id, n uint64) string       { return string(stateproof.BatchDataKey(id, n)) }
func keyBatchTrace(id, n uint64) string      { return string(stateproof.BatchTraceKey(id, n)) }
func keyClaim(id, n, k uint64) string        { return string(stateproof.ClaimKey(id, n, k)) }
func keyExit(id uint64, idx uint32) string   { return string(stateproof.ExitKey(id, idx)) }
func keyRefund(id, j uint64) string          { return string(stateproof.RefundKey(id, j)) }
func keyDelayed(id, n uint64) string         { return string(stateproof.DelayedKey(id, n)) }
func keyClaimDelayed(id, n, k uint64) string { return string(stateproof.ClaimDelayedKey(id, n, k)) }
func keyBlock(h uint64) string               { return u64key(prefixBlock, h) }
func keyReceipts(h uint64) string            { return u64key(prefixReceipt, h) }
func keyEvent(h uint64, i uint64) string     { return u64key(prefixEvent, h, i) }
func keyGlobal() string                      { return string(stateproof.GlobalKey()) }
func keyFees() string                        { return string(stateproof.FeesKey()) }
