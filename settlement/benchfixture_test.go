package settlement_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/l1source"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/settlement"
)

// benchRollup is the fixture of the settlement benchmarks: a real L1 node on disk with the
// rollup registered, a sequencer executing with the Zig core on disk, and a settlement engine
// on disk posting optimistic batches to the node, in process or over loopback QUIC.
type benchRollup struct {
	ctx    context.Context
	node   *node.Node
	l1     settlement.NativeL1 // what the sequencer and the engine reach L1 through
	seq    *sequencer.Sequencer
	eng    *settlement.Engine
	engCfg settlement.Config // to reopen the engine on its directory
	keys   []*l2.PrivateKey  // L2 account i's key (its deposit lands at index i)
	user   *pqkey.PrivateKey // the L1 account that deposits
	nonce  uint64            // user's next L1 nonce
}

// benchOpts are the fixture's parameters.
type benchOpts struct {
	depth, batchSize int // the rollup's tree depth and circuit batch size
	optimisticTxs    int // settlement.Config.MaxOptimisticTxs (0: l2.MaxBatchTxs)
	accounts         int // L2 accounts funded through L1 deposits
	window           uint64
	// l1Interval is the node's block interval (0: blocks only on produce, the benchmark drives
	// them); engineEvery is the engine's poll interval when it runs on its own (0: driven by
	// Step).
	l1Interval, engineEvery time.Duration
	seqInterval             time.Duration
	batchAge                time.Duration
	overQUIC                bool
	maxInFlight             int
	noCrossCheck            bool // settlement.Config.NoCrossCheck
}

// newBenchRollup starts the fixture and funds o.accounts L2 accounts through L1 deposits; it
// returns once the sequencer has placed every deposit.
func newBenchRollup(b *testing.B, o benchOpts) *benchRollup {
	b.Helper()
	r := &benchRollup{ctx: context.Background(), user: l1Key(2)}
	seqKey, val := l1Key(1), l1Key(0)
	g := chain.Genesis{ChainID: l1ChainID, Validator: val.Public().Bytes(), Timestamp: 1,
		Alloc: []chain.Alloc{{Address: seqKey.Address(), Balance: 1 << 50}, {Address: r.user.Address(), Balance: 1 << 50}}}
	n, err := node.New(node.Config{Dir: b.TempDir(), Genesis: g, Key: val, Verifier: prover.NewVerifier(), Judge: fraud.Judge{},
		BlockInterval: o.l1Interval, MaxSenderPending: 1 << 16, MaxNonceGap: 1 << 16, MaxMempoolTxs: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Stop() })
	r.node, r.l1 = n, n.Local()
	if o.overQUIC {
		r.l1 = benchDial(b, n, val)
	}
	r.submitL1(chain.TxRegisterRollup, &chain.RollupConfig{L2ChainID: l2ChainID, TreeDepth: uint8(o.depth), BatchSize: uint64(o.batchSize),
		SequencerBond: bond, ChallengeWindow: o.window, ForcedInclusionWindow: 1 << 20, ExodusTimeout: 1 << 30,
		Sequencers: []common.Address{seqKey.Address()}})
	r.produce(b)
	if err := n.Start(r.ctx); err != nil {
		b.Fatal(err)
	}

	r.seq, err = sequencer.New(sequencer.Config{DataDir: b.TempDir(), ChainID: l2ChainID, Depth: o.depth, BlockInterval: o.seqInterval,
		MaxBlockTxs: l2.MaxBatchTxs, SnapshotEvery: 1 << 30, CapacityHint: uint64(o.accounts),
		Mempool:  sequencer.MempoolConfig{MaxTxs: 1 << 20, MaxPerSender: 1 << 20},
		Deposits: l1source.Deposits{L1: r.l1, RollupID: 1}})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.seq.Start(r.ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.seq.Stop() })

	r.engCfg = settlement.Config{Dir: b.TempDir(), ChainID: l2ChainID, Depth: o.depth, Blocks: r.seq,
		Target: settlement.NewNativeTarget(r.l1, seqKey, 1), MaxBatchTxs: o.batchSize, MaxOptimisticTxs: o.optimisticTxs,
		MaxBatchAge: o.batchAge, MaxInFlight: o.maxInFlight, Policy: settlement.PolicyOptimistic, PollInterval: o.engineEvery,
		NoCrossCheck: o.noCrossCheck}
	r.openEngine(b)
	b.Cleanup(func() { r.eng.Stop() })

	r.fund(b, o.accounts, o.l1Interval == 0)
	return r
}

// openEngine opens the engine on its directory (again, after a Stop: a restart), starts it if
// it runs on its own, and attaches it to the sequencer.
func (r *benchRollup) openEngine(b *testing.B) {
	b.Helper()
	eng, err := settlement.New(r.engCfg)
	if err != nil {
		b.Fatal(err)
	}
	if r.engCfg.PollInterval > 0 {
		if err := eng.Start(r.ctx); err != nil {
			b.Fatal(err)
		}
	}
	r.eng = eng
	r.seq.SetSettlement(eng)
}

// benchDial serves n's API on loopback QUIC, without the per-connection rate limit getting in
// the way of one connection shared by the sequencer and the engine, and dials it.
func benchDial(b *testing.B, n *node.Node, validator *pqkey.PrivateKey) *l1client.Client {
	srv, err := n.Serve(context.Background(), quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", RequestsPerSecond: 1e6, RequestBurst: 1e6})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	c, err := l1client.Dial(context.Background(), l1client.Config{Addr: srv.Addr().String(), ChainID: l1ChainID, Validator: validator.Public()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// submitL1 sends an L1 transaction from the depositing account.
func (r *benchRollup) submitL1(typ chain.TxType, payload any) error {
	raw, err := chain.SignTx(r.user, typ, l1ChainID, r.nonce, payload)
	if err != nil {
		return err
	}
	r.nonce++
	_, err = r.node.SubmitTx(raw)
	return err
}

// produce makes one L1 block, failing on a block error.
func (r *benchRollup) produce(b *testing.B) *chain.Result {
	b.Helper()
	res, err := r.node.ProduceBlock(r.ctx)
	if err != nil {
		b.Fatal(err)
	}
	for i, err := range res.Errs {
		if err != nil {
			b.Fatalf("L1 tx %d: %v", i, err)
		}
	}
	return res
}

// fund deposits to n new L2 accounts on L1 (producing the blocks if produce) and waits until the
// sequencer has placed every deposit.
func (r *benchRollup) fund(b *testing.B, n int, produce bool) {
	b.Helper()
	for range n {
		rng := rand.New(rand.NewChaCha8([32]byte{byte(len(r.keys)), byte(len(r.keys) >> 8), 0x77}))
		var seed [64]byte
		for i := range seed {
			seed[i] = byte(rng.Uint32())
		}
		k, err := l2.GenerateKey(bytes.NewReader(seed[:]))
		if err != nil {
			b.Fatal(err)
		}
		pk := k.Public()
		if err := r.submitL1(chain.TxDeposit, &chain.Deposit{RollupID: 1, Amount: 1 << 40, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()}); err != nil {
			b.Fatal(err)
		}
		r.keys = append(r.keys, k)
	}
	if produce {
		r.produce(b)
	}
	want := uint64(len(r.keys))
	proctest.WaitFor(b, "the sequencer to place every deposit", time.Minute, func() bool { return r.seq.Head().DepositEnd >= want })
}

// signTransfers signs n transfers in parallel: transfer k is from account (first+k) % accounts
// with nonce (first+k) / accounts, to the next account, so that consecutive calls continue
// each account's nonces.
func (r *benchRollup) signTransfers(b *testing.B, first, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	accounts := len(r.keys)
	var wg sync.WaitGroup
	var failed sync.Once
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < n; j += workers {
				k := first + j
				from := uint32(k % accounts)
				tx := l2.Tx{Type: l2.TxTransfer, From: from, To: (from + 1) % uint32(accounts), Amount: 1, Nonce: uint64(k / accounts)}
				if err := l2.SignTx(r.keys[from], l2ChainID, &tx); err != nil {
					failed.Do(func() { b.Error(err) })
					return
				}
				raw := tx.Encode()
				out[j] = raw[:]
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return out
}

// l1Counts reads the rollup's progress from the L1 node's own state: the transactions of the
// batches L1 accepted (HeadNumber) and of those final on it (FinalNumber), from its batch records.
// It counts what L1 says, not what the engine holds (which may prune its final records).
type l1Counts struct {
	node *node.Node
	cum  []uint64 // cum[n]: transactions of batches 1..n accepted so far (cum[0] = 0)
}

func (c *l1Counts) read(b *testing.B) (posted, final uint64, finalBatches uint64) {
	b.Helper()
	r, err := c.node.Rollup(1)
	if err != nil {
		b.Fatal(err)
	}
	if len(c.cum) == 0 {
		c.cum = []uint64{0}
	}
	if uint64(len(c.cum)-1) > r.HeadNumber {
		c.cum = c.cum[:r.HeadNumber+1] // reverted batches (none in the benchmarks)
	}
	for n := uint64(len(c.cum)); n <= r.HeadNumber; n++ {
		rec, err := c.node.Batch(1, n)
		if err != nil {
			b.Fatalf("L1 batch %d: %v", n, err)
		}
		c.cum = append(c.cum, c.cum[n-1]+rec.TxCount)
	}
	return c.cum[r.HeadNumber], c.cum[r.FinalNumber], r.FinalNumber
}
