package ffi

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
)

// modulusBE is p (docs §1) as 32 bytes BE: the smallest non-canonical word.
var modulusBE = mustHex("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// badInputDepth is the depth of the core the bad-input tests run against.
const badInputDepth = 8

// newBadInputCore returns a depth-8 core holding account 0 (balance 100), account 1 (balance
// 2^64-6, one short of overflowing by 6) and account 2 (balance 50).
func newBadInputCore(t *testing.T) *Core {
	t.Helper()
	c := newTestCore(t, badInputDepth)
	var out BatchOutput
	mustApply(t, c, batch(deposit(0, 0, 100), deposit(1, 1, math.MaxUint64-5), deposit(2, 2, 50)), &out)
	for k, s := range out.Statuses {
		if s != TxOK {
			t.Fatalf("setup deposit %d: %v", k, s)
		}
	}
	return c
}

// edit returns a copy of b with f applied.
func edit(b []byte, f func(b []byte)) []byte {
	b = bytes.Clone(b)
	f(b)
	return b
}

func TestApplyBatchStructuralErrors(t *testing.T) {
	valid := batch(deposit(3, 3, 10), transfer(0, 2, 5, 0))
	tests := []struct {
		name string
		txs  []byte
		want error
	}{
		{"nil", nil, ErrMalformed},
		{"empty", []byte{}, ErrMalformed},
		{"one byte", []byte{0}, ErrMalformed},
		{"truncated by one byte", valid[:len(valid)-1], ErrMalformed},
		{"truncated by one word", valid[:len(valid)-32], ErrMalformed},
		{"one byte too long", append(bytes.Clone(valid), 0), ErrMalformed},
		{"4097 records", make([]byte, (MaxBatchTxs+1)*TxSize), ErrBatchTooLarge},
		{"4097 records and a byte: length checked first", make([]byte, (MaxBatchTxs+1)*TxSize+1), ErrMalformed},
		{"type 7", edit(valid, func(b []byte) { b[7] = 7 }), ErrUnknownType},
		{"transfer_mldsa with w3", edit(valid, func(b []byte) { b[TxSize+7] = 5; b[TxSize+127] = 1 }), ErrMalformed},
		{"transfer_mldsa with w4", edit(valid, func(b []byte) { b[TxSize+7] = 5; b[TxSize+159] = 1 }), ErrMalformed},
		{"withdraw_mldsa with w3", edit(batch(withdraw(0, 9, 1, 0)), func(b []byte) { b[7] = 6; b[127] = 1 }), ErrMalformed},
		{"type 255", edit(valid, func(b []byte) { b[TxSize+7] = 255 }), ErrUnknownType},
		{"w2 = p", edit(valid, func(b []byte) { copy(b[64:96], modulusBE) }), ErrNonCanonical},
		{"w4 all ones", edit(valid, func(b []byte) { copy(b[TxSize+128:2*TxSize], bytes.Repeat([]byte{0xff}, 32)) }), ErrNonCanonical},
		{"w0 = p", edit(valid, func(b []byte) { copy(b[:32], modulusBE) }), ErrNonCanonical},
		{"reserved byte of w0", edit(valid, func(b []byte) { b[3] = 1 }), ErrMalformed},
		{"deposit with to", edit(valid, func(b []byte) { b[15] = 1 }), ErrMalformed},
		{"deposit with nonce", edit(valid, func(b []byte) { b[31] = 1 }), ErrMalformed},
		{"deposit with w1", edit(valid, func(b []byte) { b[63] = 1 }), ErrMalformed},
		{"deposit with w4", edit(valid, func(b []byte) { b[159] = 1 }), ErrMalformed},
		{"transfer with w1", edit(valid, func(b []byte) { b[TxSize+63] = 1 }), ErrMalformed},
		{"no-op with an amount", edit(batch(l2.Tx{}, l2.Tx{}), func(b []byte) { b[TxSize+23] = 1 }), ErrMalformed},
		{"no-op with w3", edit(batch(l2.Tx{}), func(b []byte) { b[127] = 1 }), ErrMalformed},
		{"withdraw address of 161 bits", edit(batch(withdraw(0, 9, 1, 0)), func(b []byte) { b[32+11] = 1 }), ErrMalformed},
		{"withdraw with to", edit(batch(withdraw(0, 9, 1, 0)), func(b []byte) { b[15] = 1 }), ErrMalformed},
		{"valid records then an unknown type", append(bytes.Clone(valid), edit(valid[:TxSize], func(b []byte) { b[7] = 9 })...), ErrUnknownType},
		// Records are checked in order, each record's checks in the order of §5.3: the first bad
		// record decides the error.
		{"malformed record before a non-canonical one", edit(valid, func(b []byte) { b[3] = 1; copy(b[TxSize+64:], modulusBE) }), ErrMalformed},
		{"non-canonical record before a malformed one", edit(valid, func(b []byte) { copy(b[64:], modulusBE); b[TxSize+3] = 1 }), ErrNonCanonical},
		{"unknown type before a non-canonical record", edit(valid, func(b []byte) { b[7] = 7; copy(b[TxSize+64:], modulusBE) }), ErrUnknownType},
		{"non-canonical and unknown type in one record", edit(valid, func(b []byte) { b[7] = 7; copy(b[64:], modulusBE) }), ErrNonCanonical},
	}
	c := newBadInputCore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stateImage(t, c)
			out := BatchOutput{Applied: 7}
			mustApply(t, c, batch(l2.Tx{}), &out) // leaves a result in out to be cleared
			err := c.ApplyBatch(tt.txs, &out)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if _, refErr := l2.DecodeBatch(tt.txs); refErr == nil || !sameClass(refErr, err) {
				t.Errorf("reference decoder gives %v, core %v", refErr, err)
			}
			if out.Len() != 0 || out.Applied != 0 || out.FinalRoot != ([32]byte{}) {
				t.Errorf("output not emptied after an error: %d results, root %x", out.Len(), out.FinalRoot)
			}
			if !bytes.Equal(before, stateImage(t, c)) {
				t.Fatal("state changed by a rejected batch")
			}
		})
	}
}

// TestCoreValidatesBatchLength bypasses the Go-side checks of ApplyBatch: the core itself must
// reject wrong lengths, with output buffers large enough.
func TestCoreValidatesBatchLength(t *testing.T) {
	c := newBadInputCore(t)
	tests := []struct {
		name string
		txs  []byte
		n    int // output capacity in transactions
		want error
	}{
		{"truncated", batch(l2.Tx{}, l2.Tx{})[:2*TxSize-1], 2, ErrMalformed},
		{"one byte", []byte{0}, 1, ErrMalformed},
		{"4097 records", make([]byte, (MaxBatchTxs+1)*TxSize), MaxBatchTxs + 1, ErrBatchTooLarge},
		{"non-canonical", edit(batch(l2.Tx{}), func(b []byte) { copy(b[32:64], modulusBE) }), 1, ErrNonCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stateImage(t, c)
			var out BatchOutput
			err := c.applyBatch(tt.txs, make([]TxStatus, tt.n), make([]byte, 32*tt.n), make([]byte, 32*tt.n), &out)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !bytes.Equal(before, stateImage(t, c)) {
				t.Fatal("state changed by a rejected batch")
			}
		})
	}
}

func TestApplyBatchOutputBuffersTooSmall(t *testing.T) {
	c := newBadInputCore(t)
	txs := batch(transfer(0, 2, 1, 0), withdraw(2, 1, 1, 0))
	const n = 2
	tests := []struct {
		name                     string
		statuses, roots, wleaves int
	}{
		{"no statuses", 0, 32 * n, 32 * n},
		{"statuses", n - 1, 32 * n, 32 * n},
		{"post roots", n, 32*n - 1, 32 * n},
		{"withdrawal leaves", n, 32 * n, 32 * (n - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stateImage(t, c)
			var out BatchOutput
			err := c.applyBatch(txs, make([]TxStatus, tt.statuses), make([]byte, tt.roots), make([]byte, tt.wleaves), &out)
			if !errors.Is(err, ErrBufferTooSmall) {
				t.Fatalf("error %v, want %v", err, ErrBufferTooSmall)
			}
			if !bytes.Equal(before, stateImage(t, c)) {
				t.Fatal("state changed by a rejected call")
			}
		})
	}
	if err := c.ApplyBatch(txs, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil output: %v, want %v", err, ErrInvalidArgument)
	}
}

// TestApplyBatchRejectedTransactions checks per-transaction statuses of bad transactions in a
// structurally valid batch: the call succeeds, the transaction gets its status and the state
// (root and accounts) is unchanged.
func TestApplyBatchRejectedTransactions(t *testing.T) {
	const outside = 1 << badInputDepth
	tests := []struct {
		name string
		tx   l2.Tx
		want TxStatus
	}{
		{"transfer to 2^depth", transfer(0, outside, 1, 0), TxIndexOutOfRange},
		{"transfer from 2^32-1", transfer(math.MaxUint32, 0, 1, 0), TxIndexOutOfRange},
		{"deposit at 2^depth", deposit(outside, 9, 1), TxIndexOutOfRange},
		{"withdraw from 2^depth", withdraw(outside, 1, 1, 0), TxIndexOutOfRange},
		{"deposit overflowing a balance", deposit(1, 1, 6), TxBalanceOverflow},
		{"deposit of 2^64-1 onto a balance", deposit(0, 0, math.MaxUint64), TxBalanceOverflow},
		{"transfer overflowing the recipient", transfer(0, 1, 6, 0), TxBalanceOverflow},
		{"transfer of 2^64-1", transfer(0, 2, math.MaxUint64, 0), TxInsufficientBalance},
		{"withdraw of more than the balance", withdraw(2, 1, 51, 0), TxInsufficientBalance},
		{"deposit with another key", deposit(0, 7, 1), TxPubkeyMismatch},
		{"transfer from an empty account", transfer(9, 0, 1, 0), TxSenderNotFound},
		{"transfer to an empty account", transfer(0, 9, 1, 0), TxRecipientNotFound},
		{"transfer with a future nonce", transfer(0, 2, 1, 1), TxBadNonce},
	}
	c := newBadInputCore(t)
	var out BatchOutput
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stateImage(t, c)
			root := mustRoot(t, c)
			mustApply(t, c, batch(tt.tx), &out)
			if out.Statuses[0] != tt.want {
				t.Fatalf("status %v, want %v", out.Statuses[0], tt.want)
			}
			if out.PostRoot(0) != root || out.FinalRoot != root {
				t.Errorf("post root %x, final root %x, want the previous root %x", out.PostRoot(0), out.FinalRoot, root)
			}
			if out.WithdrawalLeaf(0) != ([32]byte{}) || out.Applied != 0 || out.Rejected != 1 {
				t.Errorf("withdrawal leaf %x, applied/rejected %d/%d", out.WithdrawalLeaf(0), out.Applied, out.Rejected)
			}
			if !bytes.Equal(before, stateImage(t, c)) {
				t.Fatal("state changed by a rejected transaction")
			}
		})
	}
}

func TestAccountAndWitnessIndexOutOfRange(t *testing.T) {
	c := newBadInputCore(t)
	before := stateImage(t, c)
	for _, index := range []uint32{1 << badInputDepth, 1<<badInputDepth + 1, 1 << 31, math.MaxUint32} {
		if _, err := c.Account(index); !errors.Is(err, ErrIndexOutOfRange) {
			t.Errorf("Account(%d): %v, want %v", index, err, ErrIndexOutOfRange)
		}
		if _, err := c.Witness(index); !errors.Is(err, ErrIndexOutOfRange) {
			t.Errorf("Witness(%d): %v, want %v", index, err, ErrIndexOutOfRange)
		}
	}
	if !bytes.Equal(before, stateImage(t, c)) {
		t.Fatal("state changed")
	}
	// At the largest depth every u32 is an index.
	wide := newTestCore(t, TreeDepthMax)
	if a, err := wide.Account(math.MaxUint32); err != nil || a.Exists {
		t.Errorf("depth 32: Account(2^32-1) = %+v, %v; want empty", a, err)
	}
	if w, err := wide.Witness(math.MaxUint32); err != nil || len(w.Siblings) != TreeDepthMax {
		t.Errorf("depth 32: Witness(2^32-1) has %d siblings, %v", len(w.Siblings), err)
	}
}

func TestNewInvalidDepth(t *testing.T) {
	for _, d := range []uint32{0, 1, TreeDepthMax + 1, 1000} {
		if c, err := New(d, 0); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("New(%d): %v, want %v", d, err, ErrInvalidArgument)
			if c != nil {
				_ = c.Close()
			}
		}
	}
	for _, d := range []uint32{TreeDepthMin, 24, TreeDepthMax} {
		c := newTestCore(t, d)
		if c.Depth() != d {
			t.Errorf("Depth() = %d, want %d", c.Depth(), d)
		}
		if got, err := c.coreDepth(); err != nil || got != d {
			t.Errorf("core depth %d, %v; want %d", got, err, d)
		}
	}
}

func TestRestoreCorruptedSnapshot(t *testing.T) {
	c := newBadInputCore(t)
	good := stateImage(t, c)
	const (
		countOff = 16
		entry0   = snapshotHeaderSize
		entry1   = snapshotHeaderSize + snapshotEntrySize
	)
	var accounts [3]Account
	for i := range accounts {
		a, err := c.Account(uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		accounts[i] = a
	}
	root := mustRoot(t, c)
	tests := []struct {
		name string
		snap []byte
	}{
		{"nil", nil},
		{"header only", good[:snapshotHeaderSize]},
		{"truncated by one byte", good[:len(good)-1]},
		{"one extra byte", append(bytes.Clone(good), 0)},
		{"one entry missing", append(bytes.Clone(good[:entry1]), good[entry1+snapshotEntrySize:]...)},
		{"wrong magic", edit(good, func(b []byte) { b[7] = '2' })},
		{"depth 1", edit(good, func(b []byte) { b[8] = 1 })},
		{"depth 33", edit(good, func(b []byte) { b[8] = 33 })},
		{"other depth, same entries", edit(good, func(b []byte) { b[8] = badInputDepth + 1 })},
		{"non-zero pad", edit(good, func(b []byte) { b[9] = 1 })},
		{"count too large", edit(good, func(b []byte) { b[countOff+7]++ })},
		{"count 2^64-1", edit(good, func(b []byte) { copy(b[countOff:], bytes.Repeat([]byte{0xff}, 8)) })},
		{"entries out of order", EncodeSnapshot(badInputDepth, []IndexedAccount{{1, accounts[1]}, {0, accounts[0]}, {2, accounts[2]}}, root)},
		{"duplicate index", EncodeSnapshot(badInputDepth, []IndexedAccount{{0, accounts[0]}, {0, accounts[0]}, {2, accounts[2]}}, root)},
		{"index 2^depth", edit(good, func(b []byte) { binary.BigEndian.PutUint32(b[entry0+2*snapshotEntrySize:], 1<<badInputDepth) })},
		{"non-canonical key", edit(good, func(b []byte) { copy(b[entry0+4:], modulusBE) })},
		{"balance changed", edit(good, func(b []byte) { b[entry0+4+64+7] ^= 1 })},
		{"nonce changed", edit(good, func(b []byte) { b[entry0+4+64+15] ^= 1 })},
		{"non-zero entry padding", edit(good, func(b []byte) { b[entry1-1] = 1 })},
		{"root changed", edit(good, func(b []byte) { b[len(b)-1] ^= 1 })},
		{"non-canonical root", edit(good, func(b []byte) { copy(b[len(b)-32:], modulusBE) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Restore(tt.snap, 0)
			if !errors.Is(err, ErrSnapshotInvalid) {
				if r != nil {
					_ = r.Close()
				}
				t.Fatalf("error %v, want %v", err, ErrSnapshotInvalid)
			}
			if !bytes.Equal(good, stateImage(t, c)) {
				t.Fatal("source state changed")
			}
		})
	}
	r, err := Restore(good, 0)
	if err != nil {
		t.Fatalf("the uncorrupted snapshot: %v", err)
	}
	_ = r.Close()
}

func TestClosed(t *testing.T) {
	c, err := New(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	var out BatchOutput
	calls := map[string]func() error{
		"ApplyBatch":        func() error { return c.ApplyBatch(batch(l2.Tx{}), &out) },
		"ApplyBatchWitness": func() error { return c.ApplyBatchWitness(batch(l2.Tx{}), &out, &BatchWitness{}) },
		"Root":              func() error { _, err := c.Root(); return err },
		"AccountCount":      func() error { _, err := c.AccountCount(); return err },
		"Account":           func() error { _, err := c.Account(0); return err },
		"Witness":           func() error { _, err := c.Witness(0); return err },
		"Snapshot":          func() error { _, err := c.Snapshot(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want %v", name, err, ErrClosed)
		}
	}
	if c.Depth() != 4 {
		t.Errorf("Depth after Close: %d", c.Depth())
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	const depth = 10
	c := newTestCore(t, depth)
	var out BatchOutput
	mustApply(t, c, batch(deposit(0, 0, 1000), deposit(513, 1, 20), deposit(1023, 2, math.MaxUint64)), &out)
	mustApply(t, c, batch(transfer(0, 513, 10, 0), withdraw(513, 4, 5, 0), transfer(1023, 0, 1<<40, 0)), &out)

	snap := stateImage(t, c)
	r, err := Restore(snap, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Depth() != depth || mustRoot(t, r) != mustRoot(t, c) {
		t.Fatalf("restored depth %d root %x, want %d %x", r.Depth(), mustRoot(t, r), depth, mustRoot(t, c))
	}
	if !bytes.Equal(snap, stateImage(t, r)) {
		t.Fatal("the restored state exports a different snapshot")
	}
	for _, i := range []uint32{0, 1, 513, 1023} {
		a, errA := c.Account(i)
		b, errB := r.Account(i)
		if errA != nil || errB != nil || a != b {
			t.Errorf("account %d: %+v (%v), restored %+v (%v)", i, a, errA, b, errB)
		}
	}
	next := batch(transfer(513, 1023, 1, 1), withdraw(0, 7, 990, 1), deposit(5, 5, 5), transfer(0, 0, 0, 2))
	var outR BatchOutput
	mustApply(t, c, next, &out)
	mustApply(t, r, next, &outR)
	if !equalOutputs(&out, &outR) {
		t.Fatalf("same batch, different results:\n%+v\n%+v", out, outR)
	}
	if !bytes.Equal(stateImage(t, c), stateImage(t, r)) {
		t.Fatal("states differ after the same batch")
	}
}

func equalOutputs(a, b *BatchOutput) bool {
	return bytes.Equal(statusBytes(a.Statuses), statusBytes(b.Statuses)) &&
		bytes.Equal(a.PostRoots, b.PostRoots) && bytes.Equal(a.WithdrawalLeaves, b.WithdrawalLeaves) &&
		a.FinalRoot == b.FinalRoot && a.TraceRoot == b.TraceRoot && a.WithdrawalRoot == b.WithdrawalRoot &&
		a.Applied == b.Applied && a.Rejected == b.Rejected
}

func statusBytes(s []TxStatus) []byte {
	b := make([]byte, len(s))
	for i := range s {
		b[i] = byte(s[i])
	}
	return b
}

// TestWitness checks the core's witnesses with the reference verifier, for present and empty
// indices, and against the reference's own witnesses of the same state.
func TestWitness(t *testing.T) {
	const depth = 12
	txs := []l2.Tx{deposit(0, 0, 10), deposit(1, 1, 20), deposit(2048, 2, 30), deposit(4095, 3, 40), transfer(1, 0, 5, 0)}
	c := newTestCore(t, depth)
	var out BatchOutput
	mustApply(t, c, l2.EncodeBatch(txs), &out)
	ref, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	ref.ApplyBatch(txs, l2.ApplyOptions{})
	root := mustRoot(t, c)
	if wordOf(ref.Root()) != root {
		t.Fatalf("core root %x, reference %x", root, wordOf(ref.Root()))
	}
	for _, index := range []uint32{0, 1, 2, 3, 2047, 2048, 4094, 4095} {
		w, err := c.Witness(index)
		if err != nil {
			t.Fatal(err)
		}
		refAcc, exists := ref.Account(index)
		if w.Account != goAccountOf(refAcc, exists) || w.Index != index {
			t.Errorf("index %d: witness account %+v, reference %+v", index, w.Account, refAcc)
		}
		var wantLeaf [32]byte
		if exists {
			wantLeaf = wordOf(refAcc.Leaf())
		}
		if w.Leaf != wantLeaf {
			t.Errorf("index %d: leaf %x, want %x", index, w.Leaf, wantLeaf)
		}
		x, y, sib, err := w.Elements()
		if err != nil {
			t.Fatalf("index %d: %v", index, err)
		}
		if x != refAcc.PubKey.X || y != refAcc.PubKey.Y { // zero for an empty index, as the core's
			t.Errorf("index %d: public key elements (%v, %v), reference %v", index, x, y, refAcc.PubKey)
		}
		if !l2.VerifyWitness(frOf(root), depth, index, frOf(w.Leaf), sib) {
			t.Errorf("index %d (exists %v): witness does not verify against the root", index, exists)
		}
		refSib, err := ref.Witness(index)
		if err != nil {
			t.Fatal(err)
		}
		for l := range refSib {
			if refSib[l].Bytes() != w.Siblings[l] {
				t.Errorf("index %d: sibling %d differs from the reference", index, l)
			}
		}
		// A witness for the wrong index or leaf must not verify.
		if l2.VerifyWitness(frOf(root), depth, index^1, frOf(w.Leaf), sib) && exists {
			t.Errorf("index %d: witness verifies at index %d", index, index^1)
		}
	}
}

// TestConcurrentReadersAndApply runs read-only calls concurrently with batches; under -race it
// checks the locking of the binding.
func TestConcurrentReadersAndApply(t *testing.T) {
	const depth, batches = 8, 20
	c := newTestCore(t, depth)
	var out BatchOutput
	mustApply(t, c, batch(deposit(0, 0, 1<<40), deposit(1, 1, 0)), &out)
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := c.Root(); err != nil {
					errs <- err
					return
				}
				if _, err := c.Witness(1); err != nil {
					errs <- err
					return
				}
				if _, err := c.Account(0); err != nil {
					errs <- err
					return
				}
				if _, err := c.Snapshot(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for k := uint64(0); k < batches; k++ {
		mustApply(t, c, batch(transfer(0, 1, 1, k)), &out)
		if out.Statuses[0] != TxOK {
			t.Fatalf("batch %d: %v", k, out.Statuses[0])
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if a, _ := c.Account(1); a.Balance != batches {
		t.Errorf("balance %d, want %d", a.Balance, batches)
	}
}

// TestApplyBatchNoAllocs checks the point of noescape and the reusable output: a steady-state
// ApplyBatch allocates nothing on the Go heap.
func TestApplyBatchNoAllocs(t *testing.T) {
	c := newBadInputCore(t)
	txs := batch(l2.Tx{}, transfer(0, 2, 0, 0), transfer(0, 2, 1, 99), deposit(300, 1, 1))
	var out BatchOutput
	mustApply(t, c, txs, &out)
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.ApplyBatch(txs, &out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ApplyBatch allocates %.1f times per call, want 0", allocs)
	}
}

func TestPoseidon2CompressBatchArguments(t *testing.T) {
	word := func(v byte) []byte { return append(make([]byte, 31), v) }
	tests := []struct {
		name               string
		lefts, rights, out []byte
		want               error
	}{
		{"different lengths", word(1), append(word(1), word(2)...), make([]byte, 64), ErrInvalidArgument},
		{"not whole words", word(1)[:31], word(1)[:31], make([]byte, 32), ErrInvalidArgument},
		{"output too small", word(1), word(2), make([]byte, 31), ErrBufferTooSmall},
		{"non-canonical left", modulusBE, word(2), make([]byte, 32), ErrNonCanonical},
		{"non-canonical right", word(1), bytes.Repeat([]byte{0xff}, 32), make([]byte, 32), ErrNonCanonical},
		{"no pairs", nil, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Poseidon2CompressBatch(tt.lefts, tt.rights, tt.out); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestPoseidon2CompressBatchLarge compresses more pairs than one core call takes (the binding
// splits them) and checks them against the reference, with both implementations.
func TestPoseidon2CompressBatchLarge(t *testing.T) {
	n := maxCompressPairs + 3
	if testing.Short() {
		n = 1030
	}
	lefts, rights := make([]byte, 32*n), make([]byte, 32*n)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(lefts[32*i+24:], uint64(i)*0x9e3779b97f4a7c15)
		copy(rights[32*i:], lefts[32*i:32*i+32])
		rights[32*i+1] = byte(i) // stays below p: the top byte is 0
	}
	want := make([]byte, 32*n)
	for i := 0; i < n; i++ {
		h := l2.Compress(frOf([32]byte(lefts[32*i:])), frOf([32]byte(rights[32*i:])))
		b := wordOf(h)
		copy(want[32*i:], b[:])
	}
	for _, portable := range []bool{false, true} {
		ForcePortablePoseidon2(portable)
		got := make([]byte, 32*n)
		err := Poseidon2CompressBatch(lefts, rights, got)
		ForcePortablePoseidon2(false)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if !bytes.Equal(got[32*i:32*i+32], want[32*i:32*i+32]) {
				t.Fatalf("portable=%v: pair %d: %x, want %x", portable, i, got[32*i:32*i+32], want[32*i:32*i+32])
			}
		}
	}
}

func TestTxStatusNames(t *testing.T) {
	for s := TxOK; s <= TxKeyKindMismatch; s++ {
		if s.String() != l2.Status(s).String() {
			t.Errorf("status %d: %q, reference %q", s, s, l2.Status(s))
		}
	}
	if got := TxStatus(12).String(); got != "tx_status(12)" {
		t.Errorf("unknown status: %q", got)
	}
}

func TestStatusErrors(t *testing.T) {
	if statusError(0) != nil {
		t.Fatal("PQ_OK is an error")
	}
	for code, want := range []error{nil, ErrMalformed, ErrUnknownType, ErrNonCanonical, ErrBatchTooLarge,
		ErrBufferTooSmall, ErrIndexOutOfRange, ErrInvalidArgument, ErrOutOfMemory, ErrSnapshotInvalid} {
		if got := statusError(code); got != want {
			t.Errorf("status %d: %v, want %v", code, got, want)
		}
	}
	for _, code := range []int{-1, 10, 1 << 20} {
		if err := statusError(code); !errors.Is(err, ErrUnknownStatus) {
			t.Errorf("status %d: %v, want %v", code, err, ErrUnknownStatus)
		}
	}
}
