// Command pqload is the sequencer's load generator. It funds a set of accounts through the dev
// deposit path (rollup_devDeposit: the sequencer must run with -dev), signs transfers among them
// ahead of time, sends them at a target rate over WebSocket for a duration, and reports the
// acknowledgement and soft-confirmation (transaction in a durable block, seen through the
// newBlocks subscription) latency percentiles and the confirmed throughput.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

type config struct {
	url         string
	chainID     uint64
	accounts    int
	rate        float64
	duration    time.Duration
	conns       int
	maxInflight int
	seed        uint64
	fund        uint64
	wait        time.Duration
}

var spec = cliconf.Spec{
	Short: "Load generator for the pqbridge sequencer",
	Long: `pqload funds --accounts accounts through the sequencer's dev deposit path (rollup_devDeposit:
the sequencer must run with --dev), signs transfers among them ahead of time, sends them at
--rate per second over --conns WebSocket connections for --duration, and reports the
acknowledgement and soft-confirmation latency percentiles and the confirmed throughput.`,
	Example: `  pqsequencer --dev --datadir /tmp/seq &
  pqload --url ws://127.0.0.1:8645 --rate 2000 --duration 10s`,
}

func main() {
	var c config
	fs := flag.NewFlagSet("pqload", flag.ExitOnError)
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:8645", "sequencer WebSocket URL")
	fs.Uint64Var(&c.chainID, "chain-id", 1, "rollup chain ID")
	fs.IntVar(&c.accounts, "accounts", 256, "funded accounts sending transfers")
	fs.Float64Var(&c.rate, "rate", 1000, "target transfers per second")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send")
	fs.IntVar(&c.conns, "conns", 4, "WebSocket connections")
	fs.IntVar(&c.maxInflight, "max-inflight", 4096, "unacknowledged sends at most")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the account keys")
	fs.Uint64Var(&c.fund, "fund", 1<<40, "deposit per account")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "how long to wait for confirmations after the last send")
	if err := cliconf.Execute(spec, fs, os.Args[1:], os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "pqload:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "pqload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	clients := make([]*rpc.Client, c.conns)
	for i := range clients {
		cl, err := rpc.DialContext(ctx, c.url)
		if err != nil {
			return err
		}
		defer cl.Close()
		clients[i] = cl
	}
	cl := clients[0]
	keys := makeKeys(c.seed, c.accounts)
	events := make(chan *sequencer.RPCBlock, 1024)
	sub, err := cl.Subscribe(ctx, "rollup", events, "newBlocks")
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Unsubscribe()

	// Fund every account, then learn where each deposit landed from the blocks that include them.
	t0 := time.Now()
	queue := make(map[uint64]int, len(keys))
	var last uint64
	for i, k := range keys {
		pk := k.Public()
		x, y := pk.X.Bytes(), pk.Y.Bytes()
		var q hexutil.Uint64
		if err := cl.CallContext(ctx, &q, "rollup_devDeposit", hexutil.Bytes(append(x[:], y[:]...)), hexutil.Uint64(c.fund)); err != nil {
			return fmt.Errorf("dev deposit (is the sequencer running with -dev?): %w", err)
		}
		queue[uint64(q)] = i
		last = uint64(q)
	}
	index := make([]uint32, len(keys))
	for found := 0; found < len(keys); {
		var ev *sequencer.RPCBlock
		select {
		case ev = <-events:
		case err := <-sub.Err():
			return fmt.Errorf("subscription: %w", err)
		case <-time.After(30 * time.Second):
			return errors.New("deposits not included after 30 s")
		}
		if ev.DepositEnd == ev.DepositStart || uint64(ev.DepositStart) > last {
			continue
		}
		var b sequencer.RPCBlock
		if err := cl.CallContext(ctx, &b, "rollup_getBlock", ev.Number, true); err != nil {
			return err
		}
		for q := uint64(b.DepositStart); q < uint64(b.DepositEnd); q++ {
			if i, ok := queue[q]; ok {
				tx, err := l2.DecodeTx(b.Transactions[q-uint64(b.DepositStart)])
				if err != nil {
					return err
				}
				index[i] = tx.From
				found++
			}
		}
	}
	nonces := make([]uint64, len(keys))
	for i := range keys {
		var a sequencer.RPCAccount
		if err := cl.CallContext(ctx, &a, "rollup_getAccount", index[i], false); err != nil {
			return err
		}
		nonces[i] = uint64(a.Nonce)
	}
	fmt.Printf("funded %d accounts in %v\n", len(keys), time.Since(t0).Round(time.Millisecond))

	// Sign everything ahead of time: signing costs about as much as verifying, and it must not
	// compete with the sequencer for the CPU while it is measured.
	n := int(c.rate * c.duration.Seconds())
	txs := make([][]byte, n)
	hashes := make(map[common.Hash]int, n)
	plan := make([]l2.Tx, n)
	for j := range plan {
		i := j % len(keys)
		plan[j] = l2.Tx{Type: l2.TxTransfer, From: index[i], To: index[(i+1)%len(keys)], Amount: 1, Nonce: nonces[i]}
		nonces[i]++
	}
	t0 = time.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < n; j += workers {
				tx := plan[j]
				if err := l2.SignTx(keys[j%len(keys)], c.chainID, &tx); err != nil {
					panic(err)
				}
				b := tx.Encode()
				txs[j] = b[:]
			}
		}()
	}
	wg.Wait()
	for j, raw := range txs {
		hashes[sequencer.TxHash(raw)] = j
	}
	fmt.Printf("signed %d transfers in %v\n", n, time.Since(t0).Round(time.Millisecond))

	sent := make([]time.Time, n)
	acked := make([]atomic.Int64, n) // ns after sent; 0: not acknowledged
	confirmed := make([]atomic.Int64, n)
	var failures sync.Map // reason -> *atomic.Int64
	var pending atomic.Int64
	start := time.Now()
	go func() { // confirmations
		for {
			select {
			case ev := <-events:
				now := time.Now()
				for _, h := range ev.TxHashes {
					if j, ok := hashes[h]; ok {
						confirmed[j].Store(now.UnixNano())
					}
				}
			case <-sub.Err():
				return
			}
		}
	}()
	sem := make(chan struct{}, c.maxInflight)
	var sends sync.WaitGroup
	for j := range n {
		due := start.Add(time.Duration(float64(j) / c.rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		sends.Add(1)
		pending.Add(1)
		sent[j] = time.Now()
		go func() {
			defer func() { <-sem; sends.Done(); pending.Add(-1) }()
			var h common.Hash
			err := clients[j%len(clients)].CallContext(ctx, &h, "rollup_sendTransaction", hexutil.Bytes(txs[j]))
			if err != nil {
				reason := err.Error()
				var de rpc.DataError
				if errors.As(err, &de) {
					if m, ok := de.ErrorData().(map[string]any); ok {
						reason, _ = m["reason"].(string)
					}
				}
				v, _ := failures.LoadOrStore(reason, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				return
			}
			acked[j].Store(int64(time.Since(sent[j])))
		}()
	}
	sendDone := time.Now()
	sends.Wait()
	deadline := time.Now().Add(c.wait)
	for {
		missing := 0
		for j := range n {
			if acked[j].Load() != 0 && confirmed[j].Load() == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			if missing > 0 {
				fmt.Printf("WARNING: %d acknowledged transfers not confirmed after %v\n", missing, c.wait)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	var ackLat, confLat []time.Duration
	var lastConf int64
	for j := range n {
		a := acked[j].Load()
		if a == 0 {
			continue
		}
		ackLat = append(ackLat, time.Duration(a))
		if t := confirmed[j].Load(); t != 0 {
			confLat = append(confLat, time.Duration(t-sent[j].UnixNano()))
			lastConf = max(lastConf, t)
		}
	}
	fmt.Printf("sent %d in %v (target %.0f/s, achieved %.0f/s), acknowledged %d, confirmed %d\n",
		n, sendDone.Sub(start).Round(time.Millisecond), c.rate, float64(n)/sendDone.Sub(start).Seconds(), len(ackLat), len(confLat))
	if lastConf > 0 {
		fmt.Printf("confirmed throughput %.0f tx/s\n", float64(len(confLat))/time.Duration(lastConf-start.UnixNano()).Seconds())
	}
	failures.Range(func(k, v any) bool {
		fmt.Printf("rejected %s: %d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	printPercentiles("ack latency         ", ackLat)
	printPercentiles("soft-confirm latency", confLat)
	// One machine-readable line of key=value fields for scripts and make bench (bench/parse.go);
	// a latency without samples is left out.
	line := fmt.Sprintf("pqload: sent=%d acked=%d confirmed=%d rate=%.0f send_rate=%.1f", n, len(ackLat), len(confLat),
		c.rate, float64(n)/sendDone.Sub(start).Seconds())
	if lastConf > 0 {
		line += fmt.Sprintf(" tps=%.1f", float64(len(confLat))/time.Duration(lastConf-start.UnixNano()).Seconds())
	}
	for _, l := range []struct {
		name string
		d    []time.Duration // sorted by printPercentiles
	}{{"ack", ackLat}, {"soft", confLat}} {
		if len(l.d) > 0 {
			line += fmt.Sprintf(" %[1]s_p50_ms=%.3[2]f %[1]s_p90_ms=%.3[3]f %[1]s_p99_ms=%.3[4]f", l.name,
				ms(quantile(l.d, 0.50)), ms(quantile(l.d, 0.90)), ms(quantile(l.d, 0.99)))
		}
	}
	fmt.Println(line)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// quantile is the q-quantile of the sorted d: the smallest value with at least q of them at or below it.
func quantile(d []time.Duration, q float64) time.Duration {
	return d[sort.Search(len(d), func(i int) bool { return float64(i+1) >= q*float64(len(d)) })]
}

func printPercentiles(name string, d []time.Duration) {
	if len(d) == 0 {
		fmt.Printf("%s: no samples\n", name)
		return
	}
	slices.Sort(d)
	p := func(q float64) time.Duration { return quantile(d, q).Round(10 * time.Microsecond) }
	fmt.Printf("%s: p50 %v  p90 %v  p99 %v  max %v\n", name, p(0.50), p(0.90), p(0.99), d[len(d)-1].Round(10*time.Microsecond))
}

func makeKeys(seed uint64, n int) []*l2.PrivateKey {
	rng := rand.New(rand.NewPCG(seed, 0x7071))
	keys := make([]*l2.PrivateKey, n)
	for i := range keys {
		var b [32]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		k, err := l2.GenerateKey(&byteReader{b: b[:]})
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
