package chain

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/internal/storefault"
)

// TestStorageFaultsChain: a block whose commit fails (full disk, failed sync) is an error
// (pebbleguard.ErrFault), not a panic; the queries go on answering the last sealed block's
// state, not the failed batch pebble may have made readable; the chain takes no further block;
// reopened once the disk is fixed, it holds every sealed block and replays the failed one.
func TestStorageFaultsChain(t *testing.T) {
	for _, fault := range []storefault.Fault{storefault.Full, storefault.SyncFails} {
		t.Run(fault.String(), func(t *testing.T) {
			h := newHarness(t, 2)
			fs, dir := storefault.New(nil), t.TempDir()
			open := func() (*pebble.DB, *Chain) {
				guard := pebbleguard.New(nil, nil)
				db, err := pebble.Open(dir, &pebble.Options{FS: fs, Logger: guard})
				if err != nil {
					t.Fatal(err)
				}
				c, err := Open(db, Config{Genesis: h.genesis(), Verifier: h.verifier, Judge: h.judge, Guard: guard})
				if err != nil {
					t.Fatal(err)
				}
				return db, c
			}
			db, c := open()
			h.c = c
			alice, bob := h.users[0], h.users[1].Address()
			h.mustOK(h.tx(alice, TxTransfer, &Transfer{To: bob, Amount: 5})) // block 1
			sealed := h.balance(bob)

			fs.Set(fault)
			p, err := c.Execute(2000, [][]byte{h.tx(alice, TxTransfer, &Transfer{To: bob, Amount: 7})})
			if err != nil {
				t.Fatal(err)
			}
			sig, err := SignHeader(h.validator, &p.Header)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Commit(p, sig, nil); !errors.Is(err, pebbleguard.ErrFault) {
				t.Fatalf("commit under %s: %v, want a storage fault", fault, err)
			}
			failed := &SealedBlock{Header: p.Header, Txs: p.txs, Sig: sig}
			if height, _, _, _ := c.Head(); height != 1 {
				t.Fatalf("head %d after the failed commit, want 1", height)
			}
			if got := h.balance(bob); got != sealed {
				t.Fatalf("bob %d after the failed commit, want the sealed %d", got, sealed)
			}
			if _, err := c.Block(2); !errors.Is(err, ErrNotFound) {
				t.Fatalf("failed block readable: %v", err)
			}
			fs.Set(storefault.None)
			if err := c.Commit(p, sig, nil); err == nil {
				t.Fatal("a chain whose commit failed took another")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Logf("close after the fault: %v", err) // pebble reports the failed write again
			}

			db, c = open()
			defer db.Close()
			h.c = c
			height, _, _, _ := c.Head()
			switch height {
			case 1: // the failed batch did not reach the disk: the block replays
				if _, err := c.Apply(failed); err != nil {
					t.Fatalf("replaying the failed block: %v", err)
				}
			case 2: // it reached the disk before its sync failed: whole
			default:
				t.Fatalf("reopened at height %d", height)
			}
			if got := h.balance(bob); got != sealed+7 {
				t.Fatalf("bob %d, want %d", got, sealed+7)
			}
			h.mustOK(h.tx(alice, TxTransfer, &Transfer{To: bob, Amount: 1}))
		})
	}
}
