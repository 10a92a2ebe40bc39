package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const chainID = 4242

func key(i byte) *pqkey.PrivateKey { return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x5a, 1: i}) }

var (
	validator = key(0)
	alice     = key(1)
	bob       = key(2)
)

func config(dir string, fs vfs.FS) Config {
	return Config{Dir: dir, FS: fs, Key: validator, Genesis: chain.Genesis{ChainID: chainID,
		Validator: validator.Public().Bytes(), Alloc: []chain.Alloc{{Address: alice.Address(), Balance: 1000}}}}
}

func newNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n
}

func transfer(t *testing.T, nonce, amount uint64) []byte {
	t.Helper()
	raw, err := chain.SignTx(alice, chain.TxTransfer, chainID, nonce, &chain.Transfer{To: bob.Address(), Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func produce(t *testing.T, n *Node) *chain.Result {
	t.Helper()
	r, err := n.ProduceBlock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func balance(t *testing.T, n *Node, a common.Address) uint64 {
	t.Helper()
	acct, err := n.Account(a)
	if err != nil {
		t.Fatal(err)
	}
	return acct.Balance
}

func TestSubmitRejections(t *testing.T) {
	cfg := config("", vfs.NewMem())
	cfg.MaxMempoolTxs = 2
	n := newNode(t, cfg)
	good := transfer(t, 0, 1)
	if _, err := n.SubmitTx(good); err != nil {
		t.Fatal(err)
	}
	otherChain, _ := chain.SignTx(alice, chain.TxTransfer, chainID+1, 0, &chain.Transfer{Amount: 1})
	tampered := transfer(t, 1, 1)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"duplicate", good, ErrKnownTx},
		{"oversized", make([]byte, chain.MaxTxSize+1), chain.ErrTxTooLarge},
		{"garbage", []byte("garbage"), chain.ErrTxMalformed},
		{"other chain", otherChain, chain.ErrWrongChain},
		{"bad signature", tampered, chain.ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := n.SubmitTx(tc.raw); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := n.SubmitTx(transfer(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SubmitTx(transfer(t, 2, 1)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("got %v, want a full mempool", err)
	}
}

func TestBlocksOrderByNonce(t *testing.T) {
	n := newNode(t, config("", vfs.NewMem()))
	// Nonce 1 arrives first: it waits for nonce 0.
	for _, nonce := range []uint64{1, 0, 5} {
		if _, err := n.SubmitTx(transfer(t, nonce, 10)); err != nil {
			t.Fatal(err)
		}
	}
	r := produce(t, n)
	if len(r.Receipts) != 2 || !r.Receipts[0].OK || !r.Receipts[1].OK {
		t.Fatalf("block 1 receipts %+v", r.Receipts)
	}
	if got := balance(t, n, bob.Address()); got != 20 {
		t.Fatalf("bob %d", got)
	}
	if s, _ := n.Status(); s.MempoolTxs != 1 || s.Height != 1 {
		t.Fatalf("status %+v", s)
	}
	// A stale nonce is refused (an included transaction cannot be resubmitted).
	if _, err := n.SubmitTx(transfer(t, 0, 11)); !errors.Is(err, ErrNonceTooLow) {
		t.Fatalf("stale nonce: %v", err)
	}
}

func TestRestartKeepsStateAndMempool(t *testing.T) {
	dir := t.TempDir()
	cfg := config(dir, nil)
	cfg.MaxBlockTxs = 2
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for nonce := range uint64(4) {
		if _, err := n.SubmitTx(transfer(t, nonce, 1)); err != nil {
			t.Fatal(err)
		}
	}
	produce(t, n)
	before, _ := n.Status()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SubmitTx(transfer(t, 9, 1)); !errors.Is(err, ErrStopped) {
		t.Fatalf("submit after stop: %v", err)
	}

	n2 := newNode(t, cfg)
	after, _ := n2.Status()
	if after.Height != before.Height || after.StateRoot != before.StateRoot || after.BlockHash != before.BlockHash || after.MempoolTxs != 2 {
		t.Fatalf("before %+v, after %+v", before, after)
	}
	r := produce(t, n2)
	if len(r.Receipts) != 2 || !r.Receipts[0].OK || !r.Receipts[1].OK {
		t.Fatalf("receipts after restart %+v", r.Receipts)
	}
	if got := balance(t, n2, bob.Address()); got != 4 {
		t.Fatalf("bob %d, want every acknowledged transfer", got)
	}

	// A fresh chain replaying the stored blocks reaches the same root.
	replica := newNode(t, config("", vfs.NewMem()))
	head, _ := n2.Status()
	for h := uint64(1); h <= head.Height; h++ {
		b, err := n2.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := replica.Chain().Apply(b); err != nil {
			t.Fatalf("replay of block %d: %v", h, err)
		}
	}
	if s, _ := replica.Status(); s.StateRoot != head.StateRoot {
		t.Fatal("replica root differs")
	}
}

func TestIntervalProductionAndEvents(t *testing.T) {
	cfg := config("", vfs.NewMem())
	cfg.BlockInterval = 5 * time.Millisecond
	n := newNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hash, err := n.SubmitTx(transfer(t, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	for balance(t, n, bob.Address()) != 7 {
		select {
		case <-n.NewBlock():
		case <-ctx.Done():
			t.Fatal("transaction never included")
		}
	}
	var found bool
	for from := uint64(1); !found; {
		evs, err := n.Events(from, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatal("no block event carries the transfer's block")
		}
		for _, e := range evs {
			if e.Kind != chain.EventBlock {
				continue
			}
			rc, err := n.Receipts(e.Height)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rc {
				found = found || r.TxHash == hash
			}
			from = e.Height + 1
		}
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if n.Err() != nil {
		t.Fatal(n.Err())
	}
}

func TestNewRejectsForeignKey(t *testing.T) {
	cfg := config("", vfs.NewMem())
	cfg.Key = alice
	if _, err := New(cfg); err == nil {
		t.Fatal("node started with a key that is not the validator's")
	}
}

func TestConcurrentSubmissions(t *testing.T) {
	const count = 40
	cfg := config(t.TempDir(), nil)
	cfg.MaxNonceGap = count // the goroutines submit in any order
	n := newNode(t, cfg)
	raws := make([][]byte, count)
	for i := range raws {
		raws[i] = transfer(t, uint64(i), 1)
	}
	errs := make(chan error, count)
	for _, raw := range raws {
		go func() {
			_, err := n.SubmitTx(raw)
			errs <- err
		}()
	}
	for range count {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	r := produce(t, n)
	if len(r.Receipts) != count {
		t.Fatalf("%d receipts", len(r.Receipts))
	}
	for i, rc := range r.Receipts {
		if !rc.OK {
			t.Fatalf("receipt %d: %s", i, rc.Error)
		}
	}
}

// BenchmarkSubmitTx measures acknowledged submissions (envelope check + synced log write) on
// the OS file system, from parallel clients.
func BenchmarkSubmitTx(b *testing.B) {
	cfg := config(b.TempDir(), nil)
	cfg.MaxMempoolTxs = b.N + 1
	cfg.MaxSenderPending = b.N + 1
	cfg.MaxNonceGap = b.N + 1
	n, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	raws := make(chan []byte, b.N)
	for i := range b.N {
		raw, err := chain.SignTx(alice, chain.TxTransfer, chainID, uint64(i), &chain.Transfer{To: bob.Address(), Amount: 1})
		if err != nil {
			b.Fatal(err)
		}
		raws <- raw
	}
	close(raws)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := n.SubmitTx(<-raws); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
}
