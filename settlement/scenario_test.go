package settlement_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/l1source"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/provertest"
	"github.com/pqbridge/pqbridge/settlement"
)

const (
	l1ChainID = 31337
	l2ChainID = 7
	depth     = 8
	batchSize = 8
	bond      = 1000
	window    = 4 // challenge window, L1 blocks
	forced    = 3 // forced-inclusion window, L1 blocks
	funds     = 1_000_000
)

// world is one L1 node, one sequencer, one settlement engine and one challenger, in process.
type world struct {
	t          *testing.T
	ctx        context.Context
	node       *node.Node
	l1c        *l1client.Client // the node over QUIC, if the world is
	seq        *sequencer.Sequencer
	eng        *settlement.Engine
	ch         *challenger.Challenger
	seqKey     *pqkey.PrivateKey
	user       *pqkey.PrivateKey
	chKey      *pqkey.PrivateKey
	nonces     map[[20]byte]uint64
	keys       []*l2.PrivateKey // L2 account i's key (deposits land at 0, 1, 2, ...)
	l2Nonces   []uint64
	rollup     uint64
	detect     []time.Duration
	l1Deposits int
	engCfg     settlement.Config // the engine's, to reopen it
}

func l1Key(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x5e, 1: i})
}

func newWorld(t *testing.T, cfg settlement.Config) *world {
	t.Helper()
	return newWorldOver(t, cfg, false)
}

// newWorldOver is newWorld with the sequencer, the engine and the challenger reaching the node
// over loopback QUIC (l1client) if overQUIC; the test still drives L1's blocks in process.
func newWorldOver(t *testing.T, cfg settlement.Config, overQUIC bool) *world {
	t.Helper()
	return newWorldWith(t, cfg, worldOpts{depth: depth, batchSize: batchSize, overQUIC: overQUIC})
}

// executors are the challenger's executors: the scenarios that involve the challenger run with
// each.
var executors = []string{challenger.ExecutorCore, challenger.ExecutorReference}

// worldOpts are the rollup's parameters and L1's proof verifier.
type worldOpts struct {
	depth, batchSize int
	// verifier is L1's (nil: a prover.Verifier without keys, which rejects every validity
	// proof: the worlds that only settle optimistically).
	verifier chain.ProofVerifier
	vkHash   [32]byte // the rollup's verifying key
	// guardians of the rollup, all of whom must sign a config change (none: no guardians).
	guardians []*pqkey.PrivateKey
	overQUIC  bool
	executor  string // the challenger's (challenger.Config.Executor)
	// target wraps the engine's target (nil: the native target as it is).
	target func(settlement.Target) settlement.Target
	forced uint64 // the forced-inclusion window (0: forced)
	// l1RequestsPerSecond is the QUIC server's per-connection rate (0: quicrpc's default).
	l1RequestsPerSecond float64
	// backpressure, if not nil, bounds the sequencer's admission by the engine's lag.
	backpressure  *sequencer.BackpressureConfig
	snapshotEvery uint64 // the sequencer's snapshot interval (0: its default)
	// blocks, if not nil, wraps the sequencer as the engine reads it (fault injection).
	blocks func(settlement.BlockSource) settlement.BlockSource
	// preStates, if not nil, gives the Prover its states over the sequencer (nil: the Go
	// reference's, settlement.GoReferencePreStates).
	preStates func(*sequencer.Sequencer) settlement.PreStates
}

// newWorldWith is newWorldOver with the rollup's depth, batch size and verifying key chosen.
func newWorldWith(t *testing.T, cfg settlement.Config, o worldOpts) *world {
	t.Helper()
	overQUIC := o.overQUIC
	if o.verifier == nil {
		o.verifier = prover.NewVerifier()
	}
	w := &world{t: t, ctx: context.Background(), seqKey: l1Key(1), user: l1Key(2), chKey: l1Key(3), nonces: map[[20]byte]uint64{}}
	val := l1Key(0)
	g := chain.Genesis{ChainID: l1ChainID, Validator: val.Public().Bytes(), Timestamp: 1}
	for _, k := range []*pqkey.PrivateKey{w.seqKey, w.user, w.chKey} {
		g.Alloc = append(g.Alloc, chain.Alloc{Address: k.Address(), Balance: funds})
	}
	n, err := node.New(node.Config{FS: vfs.NewMem(), Genesis: g, Key: val, Verifier: o.verifier, Judge: fraud.Judge{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	w.node = n
	var l1 settlement.NativeL1 = n.Local()
	src := nodesource.New(n)
	if overQUIC {
		w.l1c = dialNode(t, n, val, o.l1RequestsPerSecond)
		l1, src = w.l1c, challenger.ClientSource(w.l1c)
	}
	if o.forced == 0 {
		o.forced = forced
	}
	rc := &chain.RollupConfig{L2ChainID: l2ChainID, VKHash: o.vkHash, TreeDepth: uint8(o.depth), BatchSize: uint64(o.batchSize),
		SequencerBond: bond, ChallengeWindow: window, ForcedInclusionWindow: o.forced, ExodusTimeout: 1000,
		Sequencers: []common.Address{w.seqKey.Address()}, GuardianThreshold: uint64(len(o.guardians))}
	for _, g := range o.guardians {
		rc.Guardians = append(rc.Guardians, g.Public().Bytes())
	}
	w.l1Ok(w.user, chain.TxRegisterRollup, rc)
	w.rollup = 1

	scfg := sequencer.Config{DataDir: t.TempDir(), ChainID: l2ChainID, Depth: o.depth,
		BlockInterval: 2 * time.Millisecond, MaxBlockTxs: 64, Deposits: l1source.Deposits{L1: l1, RollupID: 1},
		SnapshotEvery: o.snapshotEvery}
	if o.backpressure != nil {
		scfg.Backpressure = *o.backpressure
	}
	w.seq, err = sequencer.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.seq.Start(w.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.seq.Stop() })

	if cfg.FS == nil {
		cfg.FS = vfs.NewMem()
	}
	cfg.ChainID, cfg.Depth, cfg.Blocks = l2ChainID, o.depth, w.seq
	if o.blocks != nil {
		cfg.Blocks = o.blocks(w.seq)
	}
	if o.preStates != nil {
		cfg.PreStates = o.preStates(w.seq)
	} else if cfg.Prover != nil && cfg.PreStates == nil {
		cfg.PreStates = settlement.GoReferencePreStates{Blocks: cfg.Blocks, ChainID: l2ChainID}
	}
	cfg.Target = settlement.NewNativeTarget(l1, w.seqKey, 1)
	if o.target != nil {
		cfg.Target = o.target(cfg.Target)
	}
	cfg.MaxBatchTxs, cfg.MaxBatchAge, cfg.AllowFaultInjection = o.batchSize, time.Nanosecond, true
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if w.eng, err = settlement.New(cfg); err != nil {
		t.Fatal(err)
	}
	w.engCfg = cfg
	t.Cleanup(func() { w.eng.Stop() })
	w.seq.SetSettlement(w.eng)
	if o.backpressure != nil {
		w.seq.SetLagSource(w.eng)
	}
	w.ch, err = challenger.New(w.ctx, challenger.Config{FS: vfs.NewMem(), Source: src, Key: w.chKey, L1ChainID: l1ChainID, RollupID: 1,
		Executor: o.executor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.ch.Stop() })
	return w
}

// dialNode serves n's API on loopback QUIC (rps requests per second per connection; 0: the
// default) and returns a client of it.
func dialNode(t *testing.T, n *node.Node, validator *pqkey.PrivateKey, rps float64) *l1client.Client {
	t.Helper()
	srv, err := n.Serve(context.Background(), quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", RequestsPerSecond: rps,
		RequestBurst: int(rps)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := l1client.Dial(context.Background(), l1client.Config{Addr: srv.Addr().String(), ChainID: l1ChainID, Validator: validator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// l1 sends an L1 transaction and produces the block that includes it; it returns the result.
func (w *world) l1(k *pqkey.PrivateKey, typ chain.TxType, payload any) *chain.Result {
	w.t.Helper()
	a := k.Address()
	raw, err := chain.SignTx(k, typ, l1ChainID, w.nonces[a], payload)
	if err != nil {
		w.t.Fatal(err)
	}
	w.nonces[a]++
	if _, err := w.node.SubmitTx(raw); err != nil {
		w.t.Fatal(err)
	}
	return w.block()
}

func (w *world) l1Ok(k *pqkey.PrivateKey, typ chain.TxType, payload any) {
	w.t.Helper()
	for i, err := range w.l1(k, typ, payload).Errs {
		if err != nil {
			w.t.Fatalf("L1 tx %d: %v", i, err)
		}
	}
}

func (w *world) block() *chain.Result {
	w.t.Helper()
	r, err := w.node.ProduceBlock(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// waitL2 waits (bounded) until the sequencer's head satisfies done.
func (w *world) waitL2(done func(h sequencer.Header) bool) {
	w.t.Helper()
	ch, cancel := w.seq.Subscribe()
	defer cancel()
	timeout := time.After(20 * time.Second)
	for !done(w.seq.Head()) {
		select {
		case <-ch:
		case <-timeout:
			w.t.Fatalf("L2 head %+v never got there", w.seq.Head())
		}
	}
}

// deposit creates n L2 accounts through L1 deposits and waits for the sequencer to include them.
func (w *world) deposit(n int, amount uint64) {
	w.t.Helper()
	for range n {
		seed := uint64(len(w.keys) + 1)
		rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), 0x77}))
		var b [64]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		k, err := l2.GenerateKey(bytes.NewReader(b[:]))
		if err != nil {
			w.t.Fatal(err)
		}
		pk := k.Public()
		w.l1Ok(w.user, chain.TxDeposit, &chain.Deposit{RollupID: w.rollup, Amount: amount, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
		w.keys, w.l2Nonces = append(w.keys, k), append(w.l2Nonces, 0)
		w.l1Deposits++
	}
	want := uint64(w.l1Deposits)
	w.waitL2(func(h sequencer.Header) bool { return h.DepositEnd >= want })
}

// signed signs an L2 transaction of account from with its next nonce.
func (w *world) signed(tx l2.Tx) l2.Tx {
	w.t.Helper()
	tx.Nonce = w.l2Nonces[tx.From]
	w.l2Nonces[tx.From]++
	if err := l2.SignTx(w.keys[tx.From], l2ChainID, &tx); err != nil {
		w.t.Fatal(err)
	}
	return tx
}

// send sends L2 transactions and waits until a block holds them all.
func (w *world) send(txs ...l2.Tx) {
	w.t.Helper()
	ch, cancel := w.seq.Subscribe()
	defer cancel()
	want := map[[32]byte]bool{}
	for i := range txs {
		raw := txs[i].Encode()
		h, err := w.seq.SendTransaction(w.ctx, raw[:])
		if err != nil {
			w.t.Fatalf("L2 tx %d: %v", i, err)
		}
		want[h] = true
	}
	timeout := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case ev, ok := <-ch:
			if !ok {
				w.t.Fatal("subscription dropped")
			}
			for _, h := range ev.TxHashes {
				delete(want, h)
			}
		case <-timeout:
			w.t.Fatalf("%d L2 transactions never in a block", len(want))
		}
	}
}

// settle runs one engine step and includes what it posted in an L1 block; then the challenger
// looks at the block.
func (w *world) settle() *chain.Result {
	w.t.Helper()
	if err := w.eng.Step(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	r := w.block()
	w.watch()
	return r
}

func (w *world) watch() {
	w.t.Helper()
	before := w.ch.Status().Challenges
	if err := w.ch.Step(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if st := w.ch.Status(); st.Challenges > before {
		w.detect = append(w.detect, st.DetectSubmit)
	}
}

func (w *world) balance(k *pqkey.PrivateKey) uint64 {
	w.t.Helper()
	a, err := w.node.Account(k.Address())
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Balance
}

func (w *world) rollupState() *chain.Rollup {
	w.t.Helper()
	r, err := w.node.Rollup(w.rollup)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// finalizeAll drives L1 and the engine until every batch is final (bounded).
func (w *world) finalizeAll() {
	w.t.Helper()
	for range 8 * (window + 2) {
		w.settle()
		sts := w.eng.Status()
		done := len(sts) > 0
		for _, s := range sts {
			done = done && s.State == settlement.StateFinalized
		}
		if done {
			r := w.rollupState()
			last := sts[len(sts)-1]
			if r.FinalNumber != last.Number {
				w.t.Fatalf("L1 final batch %d, engine's last %d", r.FinalNumber, last.Number)
			}
			if root := w.seq.Head().PostRoot; r.FinalRoot != root && last.End.Block > w.seq.Head().Number {
				w.t.Fatalf("final root %x, sequencer root %x", r.FinalRoot, root)
			}
			if st := w.ch.Status(); st.Agreed != last.Number {
				w.t.Fatalf("challenger agreed up to %d, final is %d (%+v)", st.Agreed, last.Number, st)
			}
			return
		}
	}
	w.t.Fatalf("batches never all final: %+v", w.eng.Status())
}

func events(r *chain.Result, kind chain.EventKind) []chain.Event {
	var out []chain.Event
	for _, e := range r.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// fraudCase is one fraud class: the fault the engine injects, the proof the challenger must build
// (or the error L1 rejects the submission with).
type fraudCase struct {
	kind     settlement.FaultKind
	proof    fraud.Kind
	rejected string // L1's error at submission, for the classes L1 rejects
}

var fraudCases = []fraudCase{
	{settlement.FaultWrongBalance, fraud.KindStep, ""},
	{settlement.FaultInvalidSignature, fraud.KindStep, ""},
	{settlement.FaultNonceReplay, fraud.KindStep, ""},
	{settlement.FaultDepositSkipped, 0, chain.ErrForcedInclusion.Error()},
	{settlement.FaultWithdrawalRoot, fraud.KindWithdrawalRoot, ""},
	{settlement.FaultFinalRoot, fraud.KindFinalRoot, ""},
	{settlement.FaultDataHash, 0, chain.ErrDataHash.Error()},
	{settlement.FaultAmountOverflow, fraud.KindStep, ""},
	{settlement.FaultMiddleRoot, fraud.KindStep, ""},
}

// TestFraudScenarios runs one end-to-end scenario per fraud class (issue 6), with each of the
// challenger's executors: the engine posts batch 2 corrupted and batch 3 on top of it; the
// challenger proves batch 2 fraudulent on L1 with the real judge; batches 2 and 3 are reverted,
// the bond is split, and the engine posts the correct chain again, which finalizes. Classes L1
// rejects at submission are checked for the rejection and the honest resubmission. It logs the
// challenger's detect-to-submit time of each class.
func TestFraudScenarios(t *testing.T) {
	for _, exec := range executors {
		t.Run(exec, func(t *testing.T) {
			for _, tc := range fraudCases {
				t.Run(tc.kind.String(), func(t *testing.T) {
					for _, d := range fraudScenario(t, tc, false, exec) {
						t.Logf("challenger detect-to-submit (%s executor): %v", exec, d)
					}
				})
			}
		})
	}
}

// fraudScenario runs the scenario of TestFraudScenarios for one class with the given executor
// and returns the challenger's detect-to-submit times.
func fraudScenario(t *testing.T, tc fraudCase, overQUIC bool, executor string) []time.Duration {
	t.Helper()
	overflowFrom := uint32(0)
	var w *world
	fault := &settlement.Fault{Kind: tc.kind, Batch: 2, Step: 1, Make: func(after *l2.State) l2.Tx {
		a, _ := after.Account(overflowFrom)
		tx := l2.Tx{Type: l2.TxTransfer, From: overflowFrom, To: 1, Amount: math.MaxUint64, Nonce: a.Nonce}
		if err := l2.SignTx(w.keys[overflowFrom], l2ChainID, &tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}}
	w = newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, Fault: fault},
		worldOpts{depth: depth, batchSize: batchSize, overQUIC: overQUIC, executor: executor})
	w.deposit(3, 1000)
	w.settle() // batch 1: the deposits
	if tc.kind == settlement.FaultDepositSkipped {
		w.deposit(1, 500) // batch 2 holds it; the batch is posted once it is overdue
		for range forced {
			w.block()
		}
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}),
		w.signed(l2.Tx{Type: l2.TxWithdraw, From: 1, Amount: 10, Address: [20]byte{0xd1}}),
		w.signed(l2.Tx{Type: l2.TxTransfer, From: 2, To: 0, Amount: 3}))
	if err := w.eng.Step(w.ctx); err != nil { // batch 2, corrupted
		t.Fatal(err)
	}
	res := w.block() // the challenger looks only once batch 3 is on it too
	if tc.rejected != "" {
		if len(res.Errs) != 1 || res.Errs[0] == nil || !strings.Contains(res.Errs[0].Error(), tc.rejected) {
			t.Fatalf("L1 took the corrupted batch: %v", res.Errs)
		}
		w.watch()
		w.settle() // the engine sees the rejection and posts batch 2 again, honestly
		if st := w.eng.Status()[1]; st.Rejects != 1 || st.Reverts != 0 || !strings.Contains(st.LastError, tc.rejected) || st.State == settlement.StateBuilt {
			t.Fatalf("batch 2 after the rejection: %+v", st)
		}
		w.finalizeAll()
		if st := w.ch.Status(); st.Challenges != 0 {
			t.Fatalf("challenger challenged: %+v", st)
		}
		return nil
	}
	if errs := res.Errs; len(errs) != 1 || errs[0] != nil {
		t.Fatalf("corrupted batch 2 not accepted at submission: %v", errs)
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 7}))
	chBefore, g0 := w.balance(w.chKey), mustGlobal(t, w)
	if err := w.eng.Step(w.ctx); err != nil { // batch 3, built on batch 2
		t.Fatal(err)
	}
	if r := w.block(); len(r.Errs) != 1 || r.Errs[0] != nil {
		t.Fatalf("batch 3: %v", r.Errs)
	}
	if rs := w.rollupState(); rs.HeadNumber != 3 {
		t.Fatalf("L1 head %d, want 3", rs.HeadNumber)
	}
	w.watch() // sees 2 (fraud: challenge sent) and 3 (waits)
	st := w.ch.Status()
	if st.Challenges != 1 || st.Challenged != 2 || st.LastProof != tc.proof {
		t.Fatalf("challenger: %+v", st)
	}
	r := w.block() // the challenge
	if up := events(r, chain.EventChallengeUpheld); len(up) != 1 || up[0].Number != 2 {
		t.Fatalf("challenge not upheld: %+v %v", r.Events, r.Errs)
	}
	rev := events(r, chain.EventBatchReverted)
	if len(rev) != 2 || rev[0].Number != 3 || rev[1].Number != 2 {
		t.Fatalf("reverted %+v", rev)
	}
	if got := w.balance(w.chKey) - chBefore; got != bond/2 {
		t.Fatalf("challenger got %d, want %d", got, bond/2)
	}
	if g1 := mustGlobal(t, w); g1.Burned-g0.Burned != bond-bond/2 {
		t.Fatalf("burned %d", g1.Burned-g0.Burned)
	}
	w.watch()
	if st := w.ch.Status(); st.Upheld != 1 || st.Rewards != bond/2 || st.Challenged != 0 {
		t.Fatalf("challenger after the revert: %+v", st)
	}
	w.finalizeAll()
	sts := w.eng.Status()
	if !sts[1].FaultPosted || sts[1].Reverts != 1 || sts[2].Reverts != 1 {
		t.Fatalf("engine: %+v", sts)
	}
	if st := w.ch.Status(); st.Challenges != 1 {
		t.Fatalf("the honest resubmission was challenged: %+v", st)
	}
	t.Logf("proof %s at step %d; challenger %+v", st.LastProof, st.LastStep, w.ch.Status())
	return w.detect
}

func mustGlobal(t *testing.T, w *world) chain.Global {
	t.Helper()
	g, err := w.node.Chain().Global()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestFraudScenariosHonestRun: random honest batches, with each of the challenger's executors,
// are never challenged and all finalize. (fraud/challenger's TestHonestRunOnL1 posts 1,000 and
// fuzzes fraud proofs against them.)
func TestFraudScenariosHonestRun(t *testing.T) {
	for _, exec := range executors {
		t.Run(exec, func(t *testing.T) { honestRun(t, exec) })
	}
}

func honestRun(t *testing.T, executor string) {
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic},
		worldOpts{depth: depth, batchSize: batchSize, executor: executor})
	w.deposit(4, 10_000)
	rng := rand.New(rand.NewPCG(6, 6))
	batches := 12
	if testing.Short() {
		batches = 5
	}
	for range batches {
		var txs []l2.Tx
		for range 1 + rng.IntN(batchSize) {
			from := uint32(rng.IntN(4))
			if rng.IntN(4) == 0 {
				txs = append(txs, w.signed(l2.Tx{Type: l2.TxWithdraw, From: from, Amount: 1 + rng.Uint64N(5), Address: [20]byte{byte(from)}}))
			} else {
				txs = append(txs, w.signed(l2.Tx{Type: l2.TxTransfer, From: from, To: uint32(rng.IntN(4)), Amount: 1 + rng.Uint64N(20)}))
			}
		}
		w.send(txs...)
		w.settle()
	}
	w.finalizeAll()
	if st := w.ch.Status(); st.Challenges != 0 || st.Checked < batches {
		t.Fatalf("challenger: %+v", st)
	}
	t.Logf("%d batches final, challenger %+v", len(w.eng.Status()), w.ch.Status())
}

// evenBatches is a SCHEDULING STAND-IN around the real prover: it proves even batches with it
// and declines odd ones at once, so that the auto policy posts them optimistically and the run
// mixes both modes deterministically.
type evenBatches struct{ real settlement.Prover }

func (p evenBatches) Prove(ctx context.Context, c *l2.Commitment, data []byte, pre settlement.PreState) ([]byte, error) {
	if c.BatchNumber%2 == 1 {
		return nil, errors.New("odd batch: left to the optimistic path")
	}
	return p.real.Prove(ctx, c, data, pre)
}

func (p evenBatches) ChunkSize() int { return p.real.ChunkSize() }

// mixedParams are the circuit parameters of TestFraudScenariosMixed: tiny, so that the dev
// setup and each proof take well under a second (the smallest the protocol allows under -short,
// for -race).
func mixedParams() prover.Params {
	if testing.Short() {
		return prover.Params{Depth: l2.MinTreeDepth, BatchSize: 1}
	}
	return prover.Params{Depth: 4, BatchSize: 2}
}

// TestFraudScenariosMixed: the auto policy proves even batches with the real prover (Groth16,
// dev setup of mixedParams, settlement.ServiceProver over a prover.Service), which L1 verifies
// with a prover.Verifier holding the rollup's verifying key, and posts odd ones optimistically;
// all finalize in order.
func TestFraudScenariosMixed(t *testing.T) {
	p := mixedParams()
	start := time.Now()
	keys := provertest.Keys(t, p) // one dev setup per parameters and test binary
	setup := time.Since(start)
	vk, err := prover.VerifyingKeyBytes(keys.VK)
	if err != nil {
		t.Fatal(err)
	}
	ver := prover.NewVerifier()
	vkID, err := ver.Add(vk)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := prover.VerifyingKeyID(keys.VK); err != nil || id != vkID {
		t.Fatalf("verifying key ID %v (%v), verifier's %v", id, err, vkID)
	}
	svc, err := prover.New(prover.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	real := &settlement.ServiceProver{Service: svc, Params: p, ChainID: l2ChainID}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyAuto, Prover: evenBatches{real}, ProofDeadline: time.Minute},
		worldOpts{depth: p.Depth, batchSize: p.BatchSize, verifier: ver, vkHash: vkID})
	if rs := w.rollupState(); rs.Config.VKHash != vkID {
		t.Fatalf("rollup's verifying key %x, want %v", rs.Config.VKHash, vkID)
	}
	w.deposit(2, 1000)
	w.settle()
	for i := range 5 {
		w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: uint32(i % 2), To: uint32(1 - i%2), Amount: 1}))
		w.settle()
	}
	w.finalizeAll()
	modes := map[settlement.Mode]int{}
	for _, s := range w.eng.Status() {
		modes[s.Mode]++
		if want := settlement.Mode(s.Number % 2); s.Mode != want {
			t.Fatalf("batch %d posted %s", s.Number, s.Mode)
		}
	}
	if modes[settlement.ModeValidity] == 0 || modes[settlement.ModeOptimistic] == 0 {
		t.Fatalf("modes %v", modes)
	}
	t.Logf("%v: dev setup %v; %d validity batches (real Groth16 proofs, verified by L1) and %d optimistic, all final in %v",
		p, setup.Round(time.Millisecond), modes[settlement.ModeValidity], modes[settlement.ModeOptimistic], time.Since(start).Round(time.Millisecond))
	// Finalized in order: the L1 event log names them ascending.
	evs, err := w.node.Events(0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, e := range evs {
		if e.Kind == chain.EventBatchFinalized {
			if e.Number != last+1 {
				t.Fatalf("finalized %d after %d", e.Number, last)
			}
			last = e.Number
		}
	}
}
