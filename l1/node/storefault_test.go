package node

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// TestStorageFaultsNode: a full disk or failing syncs, at mempool admission or while a block is
// sealed, halt the node with an error naming the cause (ErrHalted, ErrStorage, the wire code
// "halted"), in status and readiness, without a panic; after the fault clears, the node reopened
// on the same datadir has every acknowledged transaction and sealed block and goes on.
func TestStorageFaultsNode(t *testing.T) {
	for _, fault := range []storefault.Fault{storefault.Full, storefault.SyncFails} {
		for _, point := range []string{"admission", "seal"} {
			t.Run(fault.String()+"/"+point, func(t *testing.T) { nodeFault(t, fault, point) })
		}
	}
}

func nodeFault(t *testing.T, fault storefault.Fault, point string) {
	fs := storefault.New(nil)
	cfg := config(t.TempDir(), fs)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	submit(t, n, 0)
	produce(t, n) // block 1: nonce 0
	submit(t, n, 1)
	sealed, _ := n.Status()

	fs.Set(fault)
	var cause error
	switch point {
	case "admission":
		_, cause = n.SubmitTx(transfer(t, 2, 1))
	case "seal":
		_, cause = n.ProduceBlock(context.Background())
	}
	errno := syscall.ENOSPC
	if fault == storefault.SyncFails {
		errno = syscall.EIO
	}
	if !errors.Is(cause, ErrHalted) || !errors.Is(cause, ErrStorage) || !strings.Contains(cause.Error(), errno.Error()) {
		t.Fatalf("%s under %s: %v; want a halt naming %q", point, fault, cause, errno)
	}
	if err := n.Err(); !errors.Is(err, ErrStorage) {
		t.Fatalf("Err = %v, want the storage fault", err)
	}
	fs.Set(storefault.None) // the node stays halted: pebble takes no writes after a failed commit
	if _, err := n.SubmitTx(transfer(t, 3, 1)); !errors.Is(err, ErrHalted) || APIErrorCode(err) != "halted" {
		t.Fatalf("submit while halted: %v (code %s)", err, APIErrorCode(err))
	}
	if _, err := n.handleSubmitTx(context.Background(), &quicrpc.Request{Payload: transfer(t, 3, 1)}); err == nil ||
		!strings.HasPrefix(err.Error(), "halted: ") {
		t.Fatalf("submit over the wire while halted: %v", err)
	}
	if _, err := n.ProduceBlock(context.Background()); !errors.Is(err, ErrHalted) {
		t.Fatalf("block while halted: %v", err)
	}
	reply, err := n.handleStatus(context.Background(), &quicrpc.Request{})
	if err != nil {
		t.Fatal(err)
	}
	var st StatusReply
	if err := rlp.DecodeBytes(reply, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Halted, errno.Error()) || st.Height != sealed.Height || st.StateRoot != sealed.StateRoot {
		t.Fatalf("status while halted %+v; want the sealed head %d and why it halted", st, sealed.Height)
	}
	if got := balance(t, n, bob.Address()); got != 1 {
		t.Fatalf("bob %d while halted; queries must read the last sealed block's state (1)", got)
	}
	select {
	case <-n.Failed():
	default:
		t.Fatal("Failed not closed")
	}
	if err := n.Stop(); err != nil {
		t.Logf("stop after the fault: %v", err) // pebble reports the failed write again
	}

	n2 := newNode(t, cfg)
	if err := n2.Err(); err != nil {
		t.Fatalf("reopened node: %v", err)
	}
	if s, _ := n2.Status(); s.Height < sealed.Height {
		t.Fatalf("reopened at height %d, sealed %d", s.Height, sealed.Height)
	}
	for range 2 { // the acknowledged nonce 1 is in the mempool, or in the block the fault hit
		produce(t, n2)
	}
	// The refused transfer (nonce 2) may be there too: its log write can reach the disk before
	// the failed sync, like a reply lost on the way. Refused is "not known", not "never".
	got := balance(t, n2, bob.Address())
	if got != 2 && !(got == 3 && point == "admission") {
		t.Fatalf("bob %d after the reopen, want both acknowledged transfers", got)
	}
	acct, err := n2.Account(alice.Address())
	if err != nil {
		t.Fatal(err)
	}
	submit(t, n2, acct.Nonce)
	produce(t, n2)
	if after := balance(t, n2, bob.Address()); after != got+1 {
		t.Fatalf("bob %d, want %d: the reopened node goes on", after, got+1)
	}
}

// TestStorageFaultsNodeReadOnly: a datadir that turned read-only refuses the reopen with an
// error naming it, and the node opens once the permission is back, with what it had.
func TestStorageFaultsNodeReadOnly(t *testing.T) {
	fs := storefault.New(nil)
	cfg := config(t.TempDir(), fs)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	submit(t, n, 0)
	produce(t, n)
	submit(t, n, 1)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	fs.Set(storefault.ReadOnly)
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), syscall.EACCES.Error()) {
		t.Fatalf("open on a read-only datadir: %v; want %q", err, syscall.EACCES)
	}
	fs.Set(storefault.None)
	n2 := newNode(t, cfg)
	if s, _ := n2.Status(); s.Height != 1 || s.MempoolTxs != 1 {
		t.Fatalf("after the read-only spell: %+v", s)
	}
	produce(t, n2)
	if got := balance(t, n2, bob.Address()); got != 2 {
		t.Fatalf("bob %d, want both acknowledged transfers", got)
	}
}

func submit(t *testing.T, n *Node, nonce uint64) {
	t.Helper()
	if _, err := n.SubmitTx(transfer(t, nonce, 1)); err != nil {
		t.Fatal(err)
	}
}
