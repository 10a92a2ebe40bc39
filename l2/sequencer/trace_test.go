package sequencer

import (
	"bytes"
	"context"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// TestBlockTrace: every stored block carries the post root of each of its transactions, as the
// executor computed them, and it survives a restart; a block stored before traces were kept
// (header | data) reads back with no trace.
func TestBlockTrace(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 3, 11)
	h.fund(keys, 50)
	h.restart()
	head := h.s.Head().Number
	if head == 0 {
		t.Fatal("no block")
	}
	for n := uint64(1); n <= head; n++ {
		b, err := h.s.Block(n)
		if err != nil || b == nil {
			t.Fatalf("block %d: %v", n, err)
		}
		k := len(b.Data) / l2.TxSize
		if len(b.Trace) != 32*k {
			t.Fatalf("block %d: trace of %d bytes for %d transactions", n, len(b.Trace), k)
		}
		if got := b.PostRoot(k - 1); got != b.Header.PostRoot {
			t.Fatalf("block %d: last trace entry %x, post root %x", n, got, b.Header.PostRoot)
		}
		trace := make([]fr.Element, k)
		for i := range trace {
			r := b.PostRoot(i)
			trace[i].SetBytes(r[:])
		}
		if tr := l2.ListRoot(trace); tr.Bytes() != b.Header.TraceRoot {
			t.Fatalf("block %d: the trace's list root is not the header's trace root", n)
		}
		old, err := decodeBlock(append(b.Header.encode(), b.Data...))
		if err != nil || old.Trace != nil || !bytes.Equal(old.Data, b.Data) {
			t.Fatalf("block %d without its trace: %v, trace %d bytes", n, err, len(old.Trace))
		}
	}
	if _, err := decodeBlock(append(encodeBlock(&Header{TxCount: 1}, make([]byte, l2.TxSize), nil, nil), 1)); err == nil {
		t.Fatal("a block value of the wrong length was read")
	}
}

// TestReferenceState: the Go reference state at the end of any block, from the newest snapshot
// at or below it (one every 3 blocks here) and the blocks after it, is at the block's post root;
// a replay never covers more than the snapshot interval while the snapshots are there, and a
// cancelled context ends a replay.
func TestReferenceState(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 4, 12)
	for i := range keys {
		h.fund(keys[i:i+1], 40)
	}
	head := h.s.Head().Number
	if head < 4 {
		t.Fatalf("head %d, want a few blocks", head)
	}
	snaps, err := h.s.db.snapshots()
	if err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots %v, %v", snaps, err)
	}
	oldest := snaps[len(snaps)-1]
	for n := uint64(0); n <= head; n++ {
		st, replayed, err := h.s.ReferenceState(context.Background(), n)
		if err != nil {
			t.Fatalf("block %d: %v", n, err)
		}
		want := h.s.chain.genesisRoot
		if n > 0 {
			b, err := h.s.Block(n)
			if err != nil || b == nil {
				t.Fatal(n, err)
			}
			want = b.Header.PostRoot
		}
		if got := rootBytes(st); got != want {
			t.Fatalf("block %d: reference root %x, post root %x", n, got, want)
		}
		if n >= oldest && replayed > 2*uint64(h.cfg.MaxBlockTxs) {
			t.Fatalf("block %d: %d transactions replayed past a snapshot", n, replayed)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if oldest > 1 {
		if _, _, err := h.s.ReferenceState(ctx, oldest-1); err == nil {
			t.Fatal("a replay from genesis ran under a cancelled context")
		}
	}
}

// TestCoreState: the core at any stream position (block n, offset k), from the newest snapshot
// at or below block n-1 and the blocks after it applied in the core, is at the root before
// transaction k of block n: trace entry k-1 mid-block, block n-1's post root at its start. A
// replay never covers more than the snapshot interval while the snapshots are there.
func TestCoreState(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 24, 12)
	for i := range keys[:12] {
		h.fund(keys[i:i+1], 40)
	}
	h.fund(keys[12:], 40) // added at once: blocks of several deposits
	head := h.s.Head().Number
	snaps, err := h.s.db.snapshots()
	if err != nil || len(snaps) == 0 || head < 4 {
		t.Fatalf("head %d, snapshots %v, %v: want a few blocks and snapshots", head, snaps, err)
	}
	oldest := snaps[len(snaps)-1]
	midBlock := 0
	for n := uint64(1); n <= head; n++ {
		b, err := h.s.Block(n)
		if err != nil || b == nil {
			t.Fatal(n, err)
		}
		prev := h.s.chain.genesisRoot
		if n > 1 {
			pb, err := h.s.Block(n - 1)
			if err != nil || pb == nil {
				t.Fatal(n-1, err)
			}
			prev = pb.Header.PostRoot
		}
		for k := uint64(0); k < uint64(b.Header.TxCount); k++ {
			want := prev
			if k > 0 {
				want = b.PostRoot(int(k) - 1)
				midBlock++
			}
			c, applied, err := h.s.CoreState(context.Background(), n, k)
			if err != nil {
				t.Fatalf("block %d offset %d: %v", n, k, err)
			}
			got, err := c.Root()
			if cerr := c.Close(); err != nil || cerr != nil {
				t.Fatal(err, cerr)
			}
			if got != want {
				t.Fatalf("block %d offset %d: core root %x, want %x", n, k, got, want)
			}
			if n > oldest && applied > 2*uint64(h.cfg.MaxBlockTxs) {
				t.Fatalf("block %d offset %d: %d transactions applied past a snapshot", n, k, applied)
			}
		}
	}
	if midBlock == 0 {
		t.Fatal("no block of more than one transaction: no mid-block position checked")
	}
	if _, _, err := h.s.CoreState(context.Background(), head, uint64(1<<20)); err == nil {
		t.Fatal("a core state past the end of a block was built")
	}
}
