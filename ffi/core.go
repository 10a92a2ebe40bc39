package ffi

/*
#cgo CFLAGS: -I${SRCDIR}/../native/include
#cgo LDFLAGS: ${SRCDIR}/../zig-out/lib/libpqcore.a

// The core never calls back into Go and never keeps a pointer after a call returns
// (pqcore.h), so Go buffers passed to it need not escape to the heap.
#cgo noescape pq_core_new
#cgo nocallback pq_core_new
#cgo noescape pq_core_free
#cgo nocallback pq_core_free
#cgo noescape pq_core_depth
#cgo nocallback pq_core_depth
#cgo noescape pq_core_root
#cgo nocallback pq_core_root
#cgo noescape pq_core_account_count
#cgo nocallback pq_core_account_count
#cgo noescape pq_core_get_account
#cgo nocallback pq_core_get_account
#cgo noescape pq_core_apply_batch
#cgo nocallback pq_core_apply_batch
#cgo noescape pq_core_apply_batch_witness
#cgo nocallback pq_core_apply_batch_witness
#cgo noescape pq_core_witness
#cgo nocallback pq_core_witness
#cgo noescape pq_core_snapshot_size
#cgo nocallback pq_core_snapshot_size
#cgo noescape pq_core_snapshot_export
#cgo nocallback pq_core_snapshot_export
#cgo noescape pq_core_snapshot_import
#cgo nocallback pq_core_snapshot_import

#include "pqcore.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Limits of the core (docs/protocol.md §3, §9), taken from pqcore.h.
const (
	TxSize       = C.PQ_TX_SIZE        // bytes per transaction record
	MaxBatchTxs  = C.PQ_MAX_BATCH_TXS  // records per batch
	ListDepth    = C.PQ_LIST_DEPTH     // depth of the trace and withdrawal trees
	TreeDepthMin = C.PQ_TREE_DEPTH_MIN // smallest state tree depth
	TreeDepthMax = C.PQ_TREE_DEPTH_MAX // largest state tree depth (indices are u32)

	snapshotHeaderSize  = C.PQ_SNAPSHOT_HEADER_SIZE
	snapshotEntrySize   = C.PQ_SNAPSHOT_ENTRY_SIZE
	snapshotTrailerSize = C.PQ_SNAPSHOT_TRAILER_SIZE
	witnessEntryFixed   = C.PQ_WITNESS_ENTRY_FIXED
)

// Core is a handle to one in-memory L2 state held by the native core. See the package
// documentation for the thread-safety rules.
type Core struct {
	// mu guards h: ApplyBatch, ApplyBatchWitness and Close hold it exclusively (they take a
	// non-const pq_core*), the read-only calls share it (const pq_core*, which the core allows
	// concurrently).
	mu      sync.RWMutex
	h       *C.pq_core // nil after Close
	depth   uint32
	cleanup runtime.Cleanup
}

// Account is an account of the state tree (docs/protocol.md §4.1). An empty index has
// Exists == false and every other field zero.
type Account struct {
	PubKeyX, PubKeyY [32]byte
	Balance, Nonce   uint64
	Exists           bool
}

// Witness is the Merkle witness of one account index (docs/protocol.md §4.3).
type Witness struct {
	Account
	Index uint32
	// Leaf is leaf(account): 0 for an empty index.
	Leaf [32]byte
	// Siblings holds Depth siblings, leaf level first.
	Siblings [][32]byte
}

// New creates an empty state (root Z[depth]) with depth in [TreeDepthMin, TreeDepthMax].
// capacityHint is the expected number of accounts: the core reserves memory for them up front
// and grows beyond it between batches.
func New(depth uint32, capacityHint uint64) (*Core, error) {
	var h *C.pq_core
	if err := statusError(int(C.pq_core_new(C.uint32_t(depth), C.uint64_t(capacityHint), &h))); err != nil {
		return nil, fmt.Errorf("ffi: new core of depth %d: %w", depth, err)
	}
	return newCore(h, depth), nil
}

// Restore creates a state from a snapshot made by [Core.Snapshot] (docs/protocol.md §9). The
// core checks the whole image, including the root recomputed from the accounts.
func Restore(snapshot []byte, capacityHint uint64) (*Core, error) {
	body := len(snapshot) - snapshotHeaderSize - snapshotTrailerSize
	if body < 0 || body%snapshotEntrySize != 0 {
		return nil, fmt.Errorf("ffi: restore snapshot of %d bytes: %w", len(snapshot), ErrSnapshotInvalid)
	}
	var h *C.pq_core
	st := C.pq_core_snapshot_import(bytesPtr(snapshot), C.size_t(len(snapshot)), C.uint64_t(capacityHint), &h)
	if err := statusError(int(st)); err != nil {
		return nil, fmt.Errorf("ffi: restore snapshot of %d bytes: %w", len(snapshot), err)
	}
	var depth C.uint32_t
	if err := statusError(int(C.pq_core_depth(h, &depth))); err != nil {
		C.pq_core_free(h)
		return nil, fmt.Errorf("ffi: depth of restored core: %w", err)
	}
	return newCore(h, uint32(depth)), nil
}

func newCore(h *C.pq_core, depth uint32) *Core {
	c := &Core{h: h, depth: depth}
	// A safety net only: Close is the contract. The cleanup cannot race with a method, since a
	// method keeps c reachable until its deferred unlock.
	c.cleanup = runtime.AddCleanup(c, func(h *C.pq_core) { C.pq_core_free(h) }, h)
	return c
}

// Close frees the core's memory. It waits for calls in progress, is idempotent, and every later
// call on c returns an error wrapping ErrClosed.
func (c *Core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil
	}
	c.cleanup.Stop()
	C.pq_core_free(c.h)
	c.h = nil
	return nil
}

// Depth returns the state tree depth, fixed at genesis. It stays valid after Close.
func (c *Core) Depth() uint32 { return c.depth }

// coreDepth asks the core for its depth: the cheapest call across the boundary, used by Restore
// and to measure the cgo overhead.
func (c *Core) coreDepth() (uint32, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return 0, fmt.Errorf("ffi: depth: %w", ErrClosed)
	}
	var d C.uint32_t
	if err := statusError(int(C.pq_core_depth(c.h, &d))); err != nil {
		return 0, fmt.Errorf("ffi: depth: %w", err)
	}
	return uint32(d), nil
}

// Root returns the current state root.
func (c *Core) Root() ([32]byte, error) {
	var root [32]byte
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return root, fmt.Errorf("ffi: root: %w", ErrClosed)
	}
	if err := statusError(int(C.pq_core_root(c.h, (*C.uint8_t)(&root[0])))); err != nil {
		return root, fmt.Errorf("ffi: root: %w", err)
	}
	return root, nil
}

// AccountCount returns the number of non-empty accounts.
func (c *Core) AccountCount() (uint64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return 0, fmt.Errorf("ffi: account count: %w", ErrClosed)
	}
	var n C.uint64_t
	if err := statusError(int(C.pq_core_account_count(c.h, &n))); err != nil {
		return 0, fmt.Errorf("ffi: account count: %w", err)
	}
	return uint64(n), nil
}

// Account returns the account at index (< 2^Depth, else ErrIndexOutOfRange).
func (c *Core) Account(index uint32) (Account, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return Account{}, fmt.Errorf("ffi: account %d: %w", index, ErrClosed)
	}
	var a C.pq_account
	if err := statusError(int(C.pq_core_get_account(c.h, C.uint32_t(index), &a))); err != nil {
		return Account{}, fmt.Errorf("ffi: account %d: %w", index, err)
	}
	return goAccount(&a), nil
}

// Witness returns the Merkle witness of index (< 2^Depth, else ErrIndexOutOfRange), present or
// empty, against the current root.
func (c *Core) Witness(index uint32) (Witness, error) {
	siblings := make([][32]byte, c.depth)
	var (
		a    C.pq_account
		leaf [32]byte
	)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return Witness{}, fmt.Errorf("ffi: witness %d: %w", index, ErrClosed)
	}
	st := C.pq_core_witness(c.h, C.uint32_t(index),
		(*C.uint8_t)(unsafe.Pointer(&siblings[0])), C.size_t(32*len(siblings)),
		&a, (*C.uint8_t)(&leaf[0]))
	if err := statusError(int(st)); err != nil {
		return Witness{}, fmt.Errorf("ffi: witness %d: %w", index, err)
	}
	return Witness{Account: goAccount(&a), Index: index, Leaf: leaf, Siblings: siblings}, nil
}

// Snapshot exports the state as a self-checking image (docs/protocol.md §9) that [Restore]
// accepts. It runs concurrently with other read-only calls, never with ApplyBatch.
func (c *Core) Snapshot() ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return nil, fmt.Errorf("ffi: snapshot: %w", ErrClosed)
	}
	var size C.size_t
	if err := statusError(int(C.pq_core_snapshot_size(c.h, &size))); err != nil {
		return nil, fmt.Errorf("ffi: snapshot size: %w", err)
	}
	buf := make([]byte, int(size))
	var written C.size_t
	if err := statusError(int(C.pq_core_snapshot_export(c.h, bytesPtr(buf), size, &written))); err != nil {
		return nil, fmt.Errorf("ffi: snapshot export of %d bytes: %w", len(buf), err)
	}
	if written != size {
		return nil, fmt.Errorf("ffi: snapshot export wrote %d of %d bytes: %w", written, size, ErrSnapshotInvalid)
	}
	return buf, nil
}

// BatchOutput receives the results of [Core.ApplyBatch]. It is owned by the caller and meant
// to be reused: its buffers grow only when a batch is longer than any before, so steady-state
// ApplyBatch calls allocate nothing. Every call overwrites the previous results.
type BatchOutput struct {
	// Statuses[k] is the status of transaction k (docs/protocol.md §7.1).
	Statuses []TxStatus
	// PostRoots is trace[k] (the state root after transaction k, §8.2) for every k, flat:
	// 32 bytes per transaction. Read one with PostRoot.
	PostRoots []byte
	// WithdrawalLeaves is wleaf[k] (§8.3) for every k, flat: 32 bytes per transaction, zero
	// where transaction k is not a successful withdraw. Read one with WithdrawalLeaf.
	WithdrawalLeaves []byte

	FinalRoot      [32]byte // trace[n-1]: the new state root
	TraceRoot      [32]byte // list_root(trace)
	WithdrawalRoot [32]byte // list_root(wleaf)
	Applied        int      // transactions with status ok
	Rejected       int      // transactions with any other status
}

// Len returns the number of transactions of the last successful ApplyBatch.
func (o *BatchOutput) Len() int { return len(o.Statuses) }

// PostRoot returns trace[k], the state root after transaction k.
func (o *BatchOutput) PostRoot(k int) [32]byte { return [32]byte(o.PostRoots[32*k : 32*k+32]) }

// WithdrawalLeaf returns wleaf[k].
func (o *BatchOutput) WithdrawalLeaf(k int) [32]byte {
	return [32]byte(o.WithdrawalLeaves[32*k : 32*k+32])
}

// resize sets the buffers' lengths to n transactions, reallocating only when n exceeds their
// capacity.
func (o *BatchOutput) resize(n int) {
	if cap(o.Statuses) < n {
		o.Statuses = make([]TxStatus, n)
	}
	if cap(o.PostRoots) < 32*n {
		o.PostRoots = make([]byte, 32*n)
	}
	if cap(o.WithdrawalLeaves) < 32*n {
		o.WithdrawalLeaves = make([]byte, 32*n)
	}
	o.Statuses = o.Statuses[:n]
	o.PostRoots = o.PostRoots[:32*n]
	o.WithdrawalLeaves = o.WithdrawalLeaves[:32*n]
}

// reset empties the results after a failed call, so stale results cannot be mistaken for new.
func (o *BatchOutput) reset() {
	o.resize(0)
	o.FinalRoot, o.TraceRoot, o.WithdrawalRoot = [32]byte{}, [32]byte{}, [32]byte{}
	o.Applied, o.Rejected = 0, 0
}

// ApplyBatch executes a batch (canonical data, docs/protocol.md §5.2: n = len(txs)/TxSize
// records, 1 ≤ n ≤ MaxBatchTxs) in one call into the core and writes the results into out.
//
// Signatures are NOT checked: the caller must have verified them (§6).
//
// A structurally invalid batch (§5.3) returns ErrMalformed, ErrBatchTooLarge, ErrNonCanonical
// or ErrUnknownType and changes nothing; out is then emptied. Transactions that fail a rule of
// §7 are not errors: they get a status in out.Statuses and leave the state unchanged.
func (c *Core) ApplyBatch(txs []byte, out *BatchOutput) error {
	if out == nil {
		return fmt.Errorf("ffi: apply batch: nil output: %w", ErrInvalidArgument)
	}
	n, err := batchLen("apply batch", txs)
	if err != nil {
		out.reset()
		return err
	}
	out.resize(n)
	if err := c.applyBatch(txs, out.Statuses, out.PostRoots, out.WithdrawalLeaves, out); err != nil {
		out.reset()
		return fmt.Errorf("ffi: apply batch of %d txs: %w", n, err)
	}
	return nil
}

// batchLen returns the number of records of batch data. The core checks the length again;
// checking here gives errors the caller can read without a call, in the order of §5.3.
func batchLen(op string, txs []byte) (int, error) {
	n := len(txs) / TxSize
	switch {
	case len(txs)%TxSize != 0:
		return 0, fmt.Errorf("ffi: %s of %d bytes (not a multiple of %d): %w", op, len(txs), TxSize, ErrMalformed)
	case n == 0:
		return 0, fmt.Errorf("ffi: %s: empty: %w", op, ErrMalformed)
	case n > MaxBatchTxs:
		return 0, fmt.Errorf("ffi: %s of %d txs (max %d): %w", op, n, MaxBatchTxs, ErrBatchTooLarge)
	}
	return n, nil
}

// applyBatch is the single cgo call behind ApplyBatch. It passes the buffers as given, so tests
// can check the core's own validation of lengths (ApplyBatch never passes short buffers).
func (c *Core) applyBatch(txs []byte, statuses []TxStatus, postRoots, leaves []byte, out *BatchOutput) error {
	var res C.pq_batch_result
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return ErrClosed
	}
	st := C.pq_core_apply_batch(c.h,
		bytesPtr(txs), C.size_t(len(txs)),
		statusesPtr(statuses), C.size_t(len(statuses)),
		bytesPtr(postRoots), C.size_t(len(postRoots)),
		bytesPtr(leaves), C.size_t(len(leaves)),
		&res)
	if err := statusError(int(st)); err != nil {
		return err
	}
	out.setResult(&res)
	return nil
}

// setResult copies the batch-level results of a successful apply call.
func (o *BatchOutput) setResult(res *C.pq_batch_result) {
	o.FinalRoot = goWord(&res.final_root)
	o.TraceRoot = goWord(&res.trace_root)
	o.WithdrawalRoot = goWord(&res.withdrawal_root)
	o.Applied = int(res.applied)
	o.Rejected = int(res.rejected)
}

// BatchWitness receives the Merkle witnesses of [Core.ApplyBatchWitness]: for every transaction
// k of the batch, the two accounts it reads with their witnesses (docs/protocol.md §4.3), taken
// in the state before transaction k, so they verify against the root trace[k-1] (the batch's
// pre-state root for k = 0) whatever the transaction's status.
//
// Like [BatchOutput] it is owned by the caller and meant to be reused: its buffers grow only
// when a batch is longer than any before, and every call overwrites the previous witnesses,
// including the Siblings of Witness values returned earlier. Copy what must outlive the next
// call.
type BatchWitness struct {
	entries  []Witness  // two per transaction: Sender(k), then Recipient(k)
	siblings [][32]byte // backing of every entry's Siblings
	raw      []byte     // the core's encoding (pqcore.h), decoded into entries
}

// Len returns the number of transactions of the last successful ApplyBatchWitness.
func (w *BatchWitness) Len() int { return len(w.entries) / 2 }

// Sender returns the witness of the account transaction k debits or credits first: index From
// (a deposit's target account; index 0 for a no-op).
func (w *BatchWitness) Sender(k int) Witness { return w.entries[2*k] }

// Recipient returns the witness of index To for a transfer, and for every other type the same
// witness as Sender(k) (equal values, separate Siblings).
//
// For both: an index ≥ 2^Depth (status index_out_of_range) gives a Witness with that Index and
// every other field zero (Depth zero Siblings), which proves nothing; an empty index in the tree
// has Exists == false, a zero Leaf and the real Siblings of the empty leaf.
func (w *BatchWitness) Recipient(k int) Witness { return w.entries[2*k+1] }

// resize sets the buffers' lengths to n transactions, reallocating only when they are too
// short.
func (w *BatchWitness) resize(n, depth int) {
	entries := 2 * n
	if cap(w.entries) < entries {
		w.entries = make([]Witness, entries)
	}
	if cap(w.siblings) < entries*depth {
		w.siblings = make([][32]byte, entries*depth)
	}
	if size := entries * (witnessEntryFixed + 32*depth); cap(w.raw) < size {
		w.raw = make([]byte, size)
	}
	w.entries = w.entries[:entries]
	w.siblings = w.siblings[:entries*depth]
	w.raw = w.raw[:entries*(witnessEntryFixed+32*depth)]
}

// reset empties the witnesses after a failed call.
func (w *BatchWitness) reset() {
	w.entries = w.entries[:0]
	w.siblings = w.siblings[:0]
	w.raw = w.raw[:0]
}

// decode fills entries from raw, laid out as pqcore.h describes for pq_core_apply_batch_witness:
// index u32 | exists u8 | pad 3 | pk.x | pk.y | balance u64 | nonce u64 | leaf | siblings.
func (w *BatchWitness) decode(depth int) {
	size := witnessEntryFixed + 32*depth
	for e := range w.entries {
		b := w.raw[e*size : (e+1)*size]
		sib := w.siblings[e*depth : (e+1)*depth : (e+1)*depth]
		for l := range sib {
			sib[l] = [32]byte(b[witnessEntryFixed+32*l:])
		}
		w.entries[e] = Witness{
			Account: Account{
				PubKeyX: [32]byte(b[8:40]),
				PubKeyY: [32]byte(b[40:72]),
				Balance: binary.BigEndian.Uint64(b[72:80]),
				Nonce:   binary.BigEndian.Uint64(b[80:88]),
				Exists:  b[4] != 0,
			},
			Index:    binary.BigEndian.Uint32(b[0:4]),
			Leaf:     [32]byte(b[88:120]),
			Siblings: sib,
		}
	}
}

// ApplyBatchWitness applies a batch exactly as [Core.ApplyBatch] does (the same results in
// out, the same errors, the same new state) and also fills w with the Merkle witnesses of every
// transaction (see [BatchWitness]), for the validity prover. The core runs the transactions one
// at a time to read the state between them, so this is slower per transaction than ApplyBatch:
// it is meant for batches being proved, not for the sequencer's hot path.
//
// On an error out and w are emptied and the state is unchanged.
func (c *Core) ApplyBatchWitness(txs []byte, out *BatchOutput, w *BatchWitness) error {
	if out == nil || w == nil {
		return fmt.Errorf("ffi: apply batch with witnesses: nil output: %w", ErrInvalidArgument)
	}
	n, err := batchLen("apply batch with witnesses", txs)
	if err != nil {
		out.reset()
		w.reset()
		return err
	}
	depth := int(c.depth)
	out.resize(n)
	w.resize(n, depth)
	if err := c.applyBatchWitness(txs, out.Statuses, out.PostRoots, out.WithdrawalLeaves, w.raw, out); err != nil {
		out.reset()
		w.reset()
		return fmt.Errorf("ffi: apply batch of %d txs with witnesses: %w", n, err)
	}
	w.decode(depth)
	return nil
}

// applyBatchWitness is the single cgo call behind ApplyBatchWitness, with the buffers passed as
// given (see applyBatch).
func (c *Core) applyBatchWitness(txs []byte, statuses []TxStatus, postRoots, leaves, witness []byte, out *BatchOutput) error {
	var res C.pq_batch_result
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return ErrClosed
	}
	st := C.pq_core_apply_batch_witness(c.h,
		bytesPtr(txs), C.size_t(len(txs)),
		statusesPtr(statuses), C.size_t(len(statuses)),
		bytesPtr(postRoots), C.size_t(len(postRoots)),
		bytesPtr(leaves), C.size_t(len(leaves)),
		&res,
		bytesPtr(witness), C.size_t(len(witness)))
	if err := statusError(int(st)); err != nil {
		return err
	}
	out.setResult(&res)
	return nil
}

// bytesPtr returns a pointer to b's first byte, or nil for an empty b (the core then sees a
// NULL pointer with length 0 and rejects it if it needs the buffer).
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

func statusesPtr(s []TxStatus) *C.uint8_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.uint8_t)(&s[0])
}

func goWord(w *[32]C.uint8_t) [32]byte { return *(*[32]byte)(unsafe.Pointer(w)) }

func goAccount(a *C.pq_account) Account {
	return Account{
		PubKeyX: goWord(&a.pk_x),
		PubKeyY: goWord(&a.pk_y),
		Balance: uint64(a.balance),
		Nonce:   uint64(a.nonce),
		Exists:  a.exists != 0,
	}
}
