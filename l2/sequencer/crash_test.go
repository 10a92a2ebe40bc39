package sequencer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/l2"
)

// seqProcess is a pqsequencer process.
type seqProcess struct {
	cmd  *exec.Cmd
	addr string
	c    *rpc.Client
	exit chan error
}

func startProcess(t *testing.T, bin, dir string) *seqProcess {
	t.Helper()
	cmd := exec.Command(bin, "-datadir", dir, "-listen", "127.0.0.1:0", "-chain-id", fmt.Sprint(testChainID),
		"-depth", "10", "-block-interval", "5ms", "-snapshot-every", "4", "-capacity", "64", "-dev")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "stderr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &seqProcess{cmd: cmd, exit: make(chan error, 1)}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "stderr.log"))
		t.Fatalf("sequencer did not start: %v\n%s", err, log)
	}
	exited := make(chan struct{})
	go func() { err := cmd.Wait(); close(exited); p.exit <- err }()
	t.Cleanup(func() { // a failing test must not leave the process behind
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	p.addr = strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if p.c, err = rpc.Dial("http://" + p.addr); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *seqProcess) kill(t *testing.T) {
	t.Helper()
	p.c.Close()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exit
}

// TestCrashSIGKILL drives signed transfers at a real pqsequencer process and kills it with
// SIGKILL at random points, then checks that every acknowledged transaction is in the chain,
// that the chain replays under the Go reference (signatures checked) to the sequencer's root, and
// that no transaction ran twice.
func TestCrashSIGKILL(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 4
	}
	work := t.TempDir()
	bin := filepath.Join(work, "pqsequencer")
	build := exec.Command("go", "build", "-o", bin, "github.com/pqbridge/pqbridge/cmd/pqsequencer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "data")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const accounts = 8
	keys := newKeys(t, accounts, 11)
	p := startProcess(t, bin, dir)
	for _, k := range keys {
		pk := k.Public()
		x, y := pk.X.Bytes(), pk.Y.Bytes()
		var q hexutil.Uint64
		if err := p.c.Call(&q, "rollup_devDeposit", hexutil.Bytes(append(x[:], y[:]...)), hexutil.Uint64(1_000_000_000)); err != nil {
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
		return signed(t, keys[i], l2.Tx{Type: l2.TxTransfer, From: idx[i], To: idx[(i+1+int(nonce[i]))%accounts], Amount: 1 + nonce[i]%7, Nonce: nonce[i]})
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
	t.Logf("%d kills, %d acknowledged transactions", kills, len(acked))
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
	ref := replayReference(t, 10, blocks) // also: all ok, every recorded root, no hash twice
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
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.exit; err != nil {
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
