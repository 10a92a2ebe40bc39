package chain

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// gatedSyncFS is a memory file system whose WAL syncs can be held: while armed, a Sync of a
// pebble WAL file (*.log) signals entered and waits for release. It models a slow fsync, the
// window in which pebble has made a batch readable but not yet durable.
type gatedSyncFS struct {
	vfs.FS
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (fs *gatedSyncFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &gatedFile{File: f, fs: fs}, nil
}

func (fs *gatedSyncFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *gatedSyncFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

// arm holds the next WAL syncs until the returned function is called.
func (fs *gatedSyncFS) arm() (entered <-chan struct{}, release func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.armed = true
	fs.entered, fs.release = make(chan struct{}), make(chan struct{})
	ch, rel := fs.entered, fs.release
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			fs.mu.Lock()
			fs.armed = false
			fs.mu.Unlock()
			close(rel)
		})
	}
}

func (fs *gatedSyncFS) gate() {
	fs.mu.Lock()
	if !fs.armed {
		fs.mu.Unlock()
		return
	}
	entered, release := fs.entered, fs.release
	select {
	case <-entered:
	default:
		close(entered)
	}
	fs.mu.Unlock()
	<-release
}

type gatedFile struct {
	vfs.File
	fs *gatedSyncFS
}

func (f *gatedFile) Sync() error     { f.fs.gate(); return f.File.Sync() }
func (f *gatedFile) SyncData() error { f.fs.gate(); return f.File.SyncData() }
func (f *gatedFile) SyncTo(n int64) (bool, error) {
	f.fs.gate()
	return f.File.SyncTo(n)
}

// TestQueriesDoNotSeeACommitInFlight: pebble makes a synced batch readable before its WAL
// record is written and synced, so a block whose Commit has not returned must stay invisible
// to the queries (a crash in that window loses it, and Head does not name it yet). Without the
// commit view the account's nonce, the receipts, the block and its events all show up while
// the fsync is held.
func TestQueriesDoNotSeeACommitInFlight(t *testing.T) {
	fs := &gatedSyncFS{FS: vfs.NewMem()}
	db, err := pebble.Open("", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := &harness{t: t, validator: seededKey(t, 0), verifier: &fakeVerifier{}, judge: faultInjectionJudge{},
		users: []*pqkey.PrivateKey{seededKey(t, 1)}, nonces: map[common.Address]uint64{}, db: db}
	h.c = h.open(db)
	alice, bob := h.users[0], seededKey(t, 2)

	raw := h.tx(alice, TxTransfer, &Transfer{To: bob.Address(), Amount: 7})
	p, err := h.c.Execute(2000, [][]byte{raw})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignHeader(h.validator, &p.Header)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := fs.arm()
	defer release()
	done := make(chan error, 1)
	go func() { done <- h.c.Commit(p, sig, nil) }()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the commit returned without syncing the WAL: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the commit did not sync the WAL")
	}
	// The fsync is held: for a while, nothing of block 1 may be visible.
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		if height, _, _, _ := h.c.Head(); height != 0 {
			t.Fatalf("head %d before the commit returned", height)
		}
		acct, err := h.c.Account(alice.Address())
		if err != nil {
			t.Fatal(err)
		}
		if acct.Nonce != 0 || h.balance(bob.Address()) != 0 {
			t.Fatalf("a query sees block 1 before its commit returned: nonce %d, head 0", acct.Nonce)
		}
		if _, err := h.c.Receipts(1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("receipts of block 1 before its commit returned: %v", err)
		}
		if _, err := h.c.Block(1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("block 1 before its commit returned: %v", err)
		}
		if evs, err := h.c.Events(1, 10); err != nil || len(evs) != 0 {
			t.Fatalf("events of block 1 before its commit returned: %d, %v", len(evs), err)
		}
		time.Sleep(time.Millisecond)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if height, _, _, _ := h.c.Head(); height != 1 {
		t.Fatalf("head %d after the commit", height)
	}
	if acct, err := h.c.Account(alice.Address()); err != nil || acct.Nonce != 1 || h.balance(bob.Address()) != 7 {
		t.Fatalf("after the commit: %+v, %v", acct, err)
	}
	if rs, err := h.c.Receipts(1); err != nil || len(rs) != 1 || !rs[0].OK {
		t.Fatalf("receipts after the commit: %+v, %v", rs, err)
	}
	if evs, err := h.c.Events(1, 10); err != nil || len(evs) != 1 || evs[0].Kind != EventBlock {
		t.Fatalf("events after the commit: %+v, %v", evs, err)
	}
}
