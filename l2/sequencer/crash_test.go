package sequencer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l2"
)

// seqProcess is a pqsequencer process and a client of its RPC.
type seqProcess struct {
	*proctest.Daemon
	c *rpc.Client
}

func startProcess(t *testing.T, bin, dir string) *seqProcess {
	t.Helper()
	d := proctest.Start(t, bin, nil, "-datadir", dir, "-listen", "127.0.0.1:0", "-chain-id", fmt.Sprint(testChainID),
		"-depth", "10", "-block-interval", "5ms", "-snapshot-every", "4", "-capacity", "64", "-dev")
	c, err := rpc.Dial("http://" + d.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	return &seqProcess{Daemon: d, c: c}
}

func (p *seqProcess) kill(t *testing.T) {
	t.Helper()
	p.c.Close()
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashSIGKILL drives signed transfers at a real pqsequencer process and kills it with
// SIGKILL at random points, then checks that every acknowledged transaction is in the chain,
// that the chain replays under the Go reference (signatures checked) to the sequencer's root, and
// that no transaction ran twice. The last account is an ML-DSA-65 one (issue 17): its transfers
// go with their signatures through the log, the blocks and the restarts (its key learnt from its
// dev deposit and kept in the sequencer's database).
func TestCrashSIGKILL(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 4
	}
	bin := filepath.Join(proctest.Build(t, "pqsequencer"), "pqsequencer")
	dir := filepath.Join(t.TempDir(), "data")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const accounts = 9 // the last is the ML-DSA account
	const pqAccount = accounts - 1
	keys := newKeys(t, accounts-1, 11)
	pq := mldsaTestKey(11)
	p := startProcess(t, bin, dir)
	for i := range accounts {
		var pub hexutil.Bytes = pq.Public().Bytes()
		if i != pqAccount {
			pk := keys[i].Public()
			x, y := pk.X.Bytes(), pk.Y.Bytes()
			pub = append(x[:], y[:]...)
		}
		var q hexutil.Uint64
		if err := p.c.Call(&q, "rollup_devDeposit", pub, hexutil.Uint64(1_000_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	var idx []uint32
	waitFor(t, "funding", func() bool {
		blocks := processBlocks(t, p.c)
		idx = idx[:0]
		for _, b := range blocks {
			for k := range int(b.DepositEnd - b.DepositStart) {
				tx, _ := l2.DecodeTx(b.Transactions[k])
				idx = append(idx, tx.From)
			}
		}
		return len(idx) == accounts
	})

	// next[i] is account i's next transaction: deterministic bytes, so a resend after a crash is
	// the same transaction (idempotent) whether or not the first copy was durable.
	next := make([][]byte, accounts)
	nonce := make([]uint64, accounts)
	mk := func(i int) []byte {
		tx := l2.Tx{Type: l2.TxTransfer, From: idx[i], To: idx[(i+1+int(nonce[i]))%accounts], Amount: 1 + nonce[i]%7, Nonce: nonce[i]}
		if i == pqAccount {
			tx.Type = l2.TxTransferMLDSA
			return signedMLDSA(t, pq, testChainID, tx)
		}
		return signed(t, keys[i], tx)
	}
	for i := range next {
		next[i] = mk(i)
	}
	var acked []common.Hash
	var mu sync.Mutex
	for round := 0; round <= kills; round++ {
		if round > 0 {
			p = startProcess(t, bin, dir)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range accounts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					var hash common.Hash
					err := p.c.CallContext(ctx, &hash, "rollup_sendTransaction", hexutil.Bytes(next[i]))
					if err != nil {
						var re rpc.Error
						if errors.As(err, &re) {
							t.Errorf("account %d nonce %d rejected: %v", i, nonce[i], err)
						}
						return // the process is gone: resend the same bytes after the restart
					}
					mu.Lock()
					acked = append(acked, hash)
					mu.Unlock()
					nonce[i]++
					next[i] = mk(i)
				}
			}()
		}
		if round < kills {
			time.Sleep(time.Duration(10+rng.IntN(150)) * time.Millisecond)
			p.kill(t)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		wg.Wait()
	}
	// Final run: everything acknowledged must end up in the chain.
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d kills, %d acknowledged transactions, %d from the ML-DSA account", kills, len(acked), nonce[pqAccount])
	if nonce[pqAccount] == 0 {
		t.Fatal("no ML-DSA transaction was acknowledged")
	}
	waitFor(t, "mempool drain", func() bool {
		var st RPCStatus
		return p.c.Call(&st, "rollup_getStatus") == nil && st.Pending == 0
	})
	var st RPCStatus
	if err := p.c.Call(&st, "rollup_getStatus"); err != nil {
		t.Fatal(err)
	}
	// A send cancelled by the client at the end of the last round may still be admitted and make
	// a block after this status: compare the status with its own head block.
	blocks := processBlocks(t, p.c)
	if uint64(st.Head) > uint64(len(blocks)) || blocks[st.Head-1].PostRoot != st.Root {
		t.Fatalf("status head %d root %x does not match the stored blocks", st.Head, st.Root)
	}
	inChain := make(map[common.Hash]bool)
	for _, b := range blocks {
		for _, x := range b.TxHashes {
			inChain[x] = true
		}
	}
	for _, x := range acked {
		if !inChain[x] {
			t.Fatalf("acknowledged transaction %x is not in the chain", x)
		}
	}
	pqKeys := l2.KeyMap{}
	pqKeys.Add(pq.Public().Bytes())
	ref := replayReferenceKeys(t, 10, blocks, pqKeys) // also: all ok, every recorded root, no hash twice, ML-DSA verified
	if last := blocks[len(blocks)-1]; common.Hash(rootBytes(ref)) != last.PostRoot {
		t.Fatalf("reference replay root %x, sequencer root %x", rootBytes(ref), last.PostRoot)
	}
	for i := range accounts {
		a, _ := ref.Account(idx[i])
		// The transaction in flight when the run ended may have been made durable without
		// its acknowledgement arriving: it may run, once.
		if a.Nonce != nonce[i] && a.Nonce != nonce[i]+1 {
			t.Fatalf("account %d: nonce %d in the chain, %d acknowledged", i, a.Nonce, nonce[i])
		}
	}
	// Graceful stop.
	p.c.Close()
	if err := p.Stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

func processBlocks(t *testing.T, c *rpc.Client) []*RPCBlock {
	t.Helper()
	var out []*RPCBlock
	for n := uint64(1); ; n++ {
		var b *RPCBlock
		if err := c.Call(&b, "rollup_getBlock", hexutil.Uint64(n), true); err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return out
		}
		out = append(out, b)
	}
}
