package chain

import (
	"crypto/sha3"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Key prefixes. Only keys under prefixState are state; the rest is history and bookkeeping that
// the state root does not cover.
const (
	prefixState   = "s/"
	prefixBlock   = "b/" // b/<height> -> SealedBlock
	prefixReceipt = "r/" // r/<height> -> []Receipt
	prefixEvent   = "e/" // e/<height>/<index> -> Event
	keyHead       = "m/head"
	keyLtHash     = "m/lthash"
)

// ltLanes is the size of the lattice hash (LtHash16 with 1024 lanes: Bellare–Micciancio's
// additive hash, as in Facebook's lthash and Solana's accounts lattice hash).
const ltLanes = 1024

// ltHash is a homomorphic multiset hash of every (key, value) pair of the state: the lane-wise
// sum mod 2^16 of SHAKE256(domain, key, value). Adding a pair adds its hash, removing subtracts
// it, so the root is a function of the set of pairs alone, independent of history and order.
type ltHash [ltLanes]uint16

var ltDomain = []byte("pqbridge/l1-state-lthash/v1")

func ltElement(key, value []byte) *ltHash {
	in := make([]byte, 0, len(ltDomain)+8+len(key)+len(value))
	in = append(in, ltDomain...)
	in = binary.BigEndian.AppendUint32(in, uint32(len(key)))
	in = append(in, key...)
	in = binary.BigEndian.AppendUint32(in, uint32(len(value)))
	in = append(in, value...)
	out := sha3.SumSHAKE256(in, 2*ltLanes)
	var h ltHash
	for i := range h {
		h[i] = binary.LittleEndian.Uint16(out[2*i:])
	}
	return &h
}

func (h *ltHash) add(e *ltHash) {
	for i := range h {
		h[i] += e[i]
	}
}

func (h *ltHash) sub(e *ltHash) {
	for i := range h {
		h[i] -= e[i]
	}
}

func (h *ltHash) bytes() []byte {
	b := make([]byte, 2*ltLanes)
	for i, v := range h {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// parseLtHash decodes a lattice hash as bytes encodes it (the stored m/lthash).
func parseLtHash(b []byte) (ltHash, error) {
	var h ltHash
	if len(b) != 2*ltLanes {
		return h, fmt.Errorf("%w: lattice hash of %d bytes, want %d", ErrCorruptStore, len(b), 2*ltLanes)
	}
	for i := range h {
		h[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return h, nil
}

// root is the state root: keccak256 of the lattice hash, domain-tagged.
func (h *ltHash) root() common.Hash {
	return crypto.Keccak256Hash([]byte("pqbridge/l1-state-root/v1"), h.bytes())
}

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

// updateLtHash applies the block layer's changes of state keys to lt: subtract the committed
// pair, add the new one. Lattice addition commutes; keys are visited sorted all the same.
func (o *overlay) updateLtHash(lt *ltHash) error {
	for _, k := range slices.Sorted(maps.Keys(o.block)) {
		if !strings.HasPrefix(k, prefixState) {
			continue
		}
		old, existed, err := dbGet(o.db, []byte(k))
		if err != nil {
			return err
		}
		if existed {
			lt.sub(ltElement([]byte(k), old))
		}
		if e := o.block[k]; !e.deleted {
			lt.add(ltElement([]byte(k), e.value))
		}
	}
	return nil
}

// Key builders. Integers are big-endian so that keys sort by number.
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

func keyAccount(a common.Address) string     { return prefixState + "acct/" + string(a[:]) }
func keyRollupCount() string                 { return prefixState + "rollups" }
func keyRollup(id uint64) string             { return u64key(prefixState+"rollup/", id) }
func keyChainID(l2 uint64) string            { return u64key(prefixState+"l2chain/", l2) }
func keyDeposit(id, j uint64) string         { return u64key(prefixState+"dq/", id, j) }
func keyBatch(id, n uint64) string           { return u64key(prefixState+"batch/", id, n) }
func keyBatchData(id, n uint64) string       { return u64key(prefixState+"bdata/", id, n) }
func keyBatchTrace(id, n uint64) string      { return u64key(prefixState+"btrace/", id, n) }
func keyClaim(id, n, k uint64) string        { return u64key(prefixState+"claim/", id, n, k) }
func keyExit(id uint64, idx uint32) string   { return u64key(prefixState+"exit/", id, uint64(idx)) }
func keyRefund(id, j uint64) string          { return u64key(prefixState+"refund/", id, j) }
func keyDelayed(id, n uint64) string         { return u64key(prefixState+"delayed/", id, n) }
func keyClaimDelayed(id, n, k uint64) string { return u64key(prefixState+"claimdelay/", id, n, k) }
func keyBlock(h uint64) string               { return u64key(prefixBlock, h) }
func keyReceipts(h uint64) string            { return u64key(prefixReceipt, h) }
func keyEvent(h uint64, i uint64) string     { return u64key(prefixEvent, h, i) }
func keyGlobal() string                      { return prefixState + "global" }
func keyFees() string                        { return prefixState + "fees" }
