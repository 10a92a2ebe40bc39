package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const (
	crashChainID    = 31337
	crashSenders    = 4
	crashKillsFull  = 20 // issue 4's acceptance
	crashKillsShort = 4
	crashMaxUptime  = 300 * time.Millisecond // a kill lands anywhere from recovery to steady load
)

func crashKey(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0xc7, 1: i})
}

// sender submits signed transfers with consecutive nonces, one at a time, and remembers the ones
// the node acknowledged. The transaction in flight when the node dies is unknown: it is resent
// as the same bytes unless the chain shows it included.
type sender struct {
	key     *pqkey.PrivateKey
	nonce   uint64 // of the next transaction
	pending []byte // the transaction of nonce, signed once
	acked   []common.Hash
}

func (s *sender) run(ctx context.Context, t *testing.T, c *l1client.Client, to common.Address) {
	acct, err := c.Account(ctx, s.key.Address())
	if err != nil {
		return // the node died already
	}
	if s.pending != nil && acct.Nonce > s.nonce {
		s.nonce, s.pending = s.nonce+1, nil // included, never acknowledged
	}
	for ctx.Err() == nil {
		if s.pending == nil {
			raw, err := chain.SignTx(s.key, chain.TxTransfer, crashChainID, s.nonce, &chain.Transfer{To: to, Amount: 1})
			if err != nil {
				t.Error(err)
				return
			}
			s.pending = raw
		}
		h, err := c.SubmitTx(ctx, s.pending)
		switch {
		case errors.Is(err, node.ErrNonceTooLow): // included since the restart, never acknowledged
			s.nonce, s.pending = s.nonce+1, nil
			continue
		case errors.Is(err, node.ErrSenderCap): // back off until a block takes some
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if err != nil && !errors.Is(err, node.ErrKnownTx) {
			var re *l1client.RemoteError
			if errors.As(err, &re) && !errors.Is(err, node.ErrStopped) {
				t.Errorf("sender %s nonce %d: %v", s.key.Address(), s.nonce, err)
			}
			return
		}
		s.acked = append(s.acked, h)
		s.nonce, s.pending = s.nonce+1, nil
	}
}

// TestNodeCrashSIGKILL is issue 4's crash test: the node binary is killed with SIGKILL at random
// points under load from several senders and restarted; afterwards every acknowledged
// transaction is in the chain exactly once and a clean replay of the stored blocks into a fresh
// store gives the node's state root.
func TestNodeCrashSIGKILL(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(proctest.Build(t, "pql1node"), "pql1node")
	validator := crashKey(0)
	keyFile := proctest.SeedFile(t, dir, "validator.key", validator)
	senders := make([]*sender, crashSenders)
	var dev []string
	genesis := chain.Genesis{ChainID: crashChainID, Validator: validator.Public().Bytes()}
	for i := range senders {
		senders[i] = &sender{key: crashKey(byte(i + 1))}
		dev = append(dev, senders[i].key.Address().Hex())
		genesis.Alloc = append(genesis.Alloc, chain.Alloc{Address: senders[i].key.Address(), Balance: devBalance})
	}
	to := crashKey(100).Address()
	args := []string{"-datadir", filepath.Join(dir, "data"), "-listen", "127.0.0.1:0", "-chain-id", fmt.Sprint(crashChainID),
		"-validator-key-file", keyFile, "-dev", strings.Join(dev, ","), "-block-interval", "20ms"}

	kills := crashKillsFull
	if testing.Short() {
		kills = crashKillsShort
	}
	seedRand := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seedRand)
	rng := rand.New(rand.NewPCG(seedRand, 0))

	dial := func(addr string) *l1client.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: crashChainID, Validator: validator.Public()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	for run := range kills {
		p := proctest.Start(t, bin, nil, args...)
		uptime := time.Duration(rng.Int64N(int64(crashMaxUptime)))
		kill := time.NewTimer(uptime)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var clients []*l1client.Client
		select {
		case line, ok := <-p.Await("listening on "):
			if ok {
				for _, s := range senders {
					c := dial(strings.Fields(line)[0])
					clients = append(clients, c)
					wg.Go(func() { s.run(ctx, t, c, to) })
				}
			}
			<-kill.C
		case <-kill.C: // killed during start-up or recovery
		}
		err := p.Kill()
		cancel()
		wg.Wait()
		for _, c := range clients {
			c.Close()
		}
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if t.Failed() {
			t.Fatalf("run %d failed", run)
		}
	}

	// A last, clean run: the unknown transactions are settled and everything is included.
	p := proctest.Start(t, bin, nil, args...)
	addr := p.Addr(t)
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	}()
	c := dial(addr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range senders {
		s.settle(ctx, t, c)
	}
	status := waitIncluded(ctx, t, c, senders)
	checkChain(ctx, t, c, senders, status)
	checkReplay(ctx, t, c, genesis, status)
	var acked int
	for _, s := range senders {
		acked += len(s.acked)
	}
	t.Logf("%d kills, %d acknowledged transactions, height %d", kills, acked, status.Height)
}

// settle resolves the transaction left unknown by the last kill: included already, or resent.
func (s *sender) settle(ctx context.Context, t *testing.T, c *l1client.Client) {
	t.Helper()
	if s.pending == nil {
		return
	}
	acct, err := c.Account(ctx, s.key.Address())
	if err != nil {
		t.Fatal(err)
	}
	if acct.Nonce > s.nonce {
		s.nonce, s.pending = s.nonce+1, nil
		return
	}
	h, err := c.SubmitTx(ctx, s.pending)
	if errors.Is(err, node.ErrNonceTooLow) { // the restarted node included it from its log meanwhile
		s.nonce, s.pending = s.nonce+1, nil
		return
	}
	if err != nil && !errors.Is(err, node.ErrKnownTx) {
		t.Fatal(err)
	}
	s.acked = append(s.acked, h)
	s.nonce, s.pending = s.nonce+1, nil
}

// waitIncluded follows the block events until every sender's transactions are in blocks.
func waitIncluded(ctx context.Context, t *testing.T, c *l1client.Client, senders []*sender) node.Status {
	t.Helper()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.Events(ctx, st.Height)
	if err != nil {
		t.Fatal(err)
	}
	defer evs.Close()
	for {
		done := true
		for _, s := range senders {
			acct, err := c.Account(ctx, s.key.Address())
			if err != nil {
				t.Fatal(err)
			}
			done = done && acct.Nonce == s.nonce
		}
		if done {
			break
		}
		for {
			ev, err := evs.Next()
			if err != nil {
				t.Fatalf("waiting for blocks: %v", err)
			}
			if ev.Kind == chain.EventBlock {
				break
			}
		}
	}
	// The state is read at a block boundary below; the mempool is empty of these senders.
	st, err = c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkChain checks that every acknowledged transaction has exactly one successful receipt and
// that the only failed receipts are resent duplicates of included ones (a resend races with the
// inclusion of the original; its nonce is spent, so it fails and changes nothing).
func checkChain(ctx context.Context, t *testing.T, c *l1client.Client, senders []*sender, st node.Status) {
	t.Helper()
	ok := map[common.Hash]int{}
	var failed []chain.Receipt
	for h := uint64(1); h <= st.Height; h++ {
		rs, err := c.Receipts(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.OK {
				ok[r.TxHash]++
			} else {
				failed = append(failed, r)
			}
		}
	}
	var acked, included uint64
	for _, s := range senders {
		acked += uint64(len(s.acked))
		included += s.nonce
		for _, h := range s.acked {
			if ok[h] != 1 {
				t.Errorf("acknowledged %s has %d successful receipts", h, ok[h])
			}
		}
	}
	for h, n := range ok {
		if n != 1 {
			t.Errorf("%s has %d successful receipts", h, n)
		}
	}
	if uint64(len(ok)) != included {
		t.Errorf("%d successful transactions, the senders' nonces say %d", len(ok), included)
	}
	for _, r := range failed {
		if ok[r.TxHash] != 1 || !strings.Contains(r.Error, chain.ErrBadNonce.Error()) {
			t.Errorf("failed receipt %+v is not a resent duplicate", r)
		}
	}
	t.Logf("%d acknowledged, %d included, %d resent duplicates", acked, included, len(failed))
}

// checkReplay applies the node's blocks, as served, to a fresh store and compares the roots.
func checkReplay(ctx context.Context, t *testing.T, c *l1client.Client, g chain.Genesis, st node.Status) {
	t.Helper()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fresh, err := chain.Open(db, chain.Config{Genesis: g, Judge: fraud.Judge{}})
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= st.Height; h++ {
		b, err := c.Block(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.Apply(b); err != nil {
			t.Fatalf("replaying block %d: %v", h, err)
		}
	}
	height, hash, _, root := fresh.Head()
	if height != st.Height || hash != st.BlockHash || root != st.StateRoot {
		t.Fatalf("replay: height %d block %s root %s; node: height %d block %s root %s",
			height, hash, root, st.Height, st.BlockHash, st.StateRoot)
	}
}
