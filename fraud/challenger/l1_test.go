package challenger_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// The rollup of the tests: small enough that the whole state fits in a few accounts, the
// challenge window long enough that a batch is still pending the block after it.
const (
	l1ChainID = 31337
	l2ChainID = 7
	depth     = 8
	batchSize = 16
	bond      = 1000
	window    = 4
	forced    = 3
	funds     = 1_000_000_000
	rollupID  = 1
)

var executors = []string{challenger.ExecutorCore, challenger.ExecutorReference}

// world is an in-process L1 node with one optimistic rollup, of which the test is the
// sequencer: it executes the L2 transactions itself with the Go reference (signatures checked,
// failing transactions dropped, as every sequencer must) and posts the batches.
type world struct {
	t      testing.TB
	ctx    context.Context
	node   *node.Node
	seqKey *pqkey.PrivateKey // posts the batches
	user   *pqkey.PrivateKey // makes the L1 deposits
	nonces map[common.Address]uint64

	signers  []*l2test.Signer // L2 keys
	state    *l2.State        // the rollup's L2 state after the posted batches
	indexOf  map[l2.PublicKey]uint32
	consumed uint64 // deposits the posted batches consumed
	number   uint64 // last batch posted
	stats    runStats
}

// runStats counts the transactions of the batches made by next.
type runStats struct {
	kept, dropped, deposits, withdraws int
}

func l1Key(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0xc4, 1: i})
}

// Keys of the world: 0 validator, 1 sequencer, 2 depositor; the rest for challengers and others.
func newWorld(t testing.TB, l2Signers int) *world {
	t.Helper()
	return newWorldJudged(t, l2Signers, fraud.Judge{})
}

// newWorldJudged is newWorld whose L1 node judges fraud proofs with judge.
func newWorldJudged(t testing.TB, l2Signers int, judge chain.FraudJudge) *world {
	t.Helper()
	return newWorldWith(t, l2Signers, judge, 0)
}

// newWorldWith is newWorldJudged whose rollup asks challengers for challengeBond.
func newWorldWith(t testing.TB, l2Signers int, judge chain.FraudJudge, challengeBond uint64) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), seqKey: l1Key(1), user: l1Key(2), nonces: map[common.Address]uint64{},
		indexOf: map[l2.PublicKey]uint32{}}
	val := l1Key(0)
	g := chain.Genesis{ChainID: l1ChainID, Validator: val.Public().Bytes(), Timestamp: 1}
	for i := byte(1); i < 8; i++ {
		g.Alloc = append(g.Alloc, chain.Alloc{Address: l1Key(i).Address(), Balance: funds})
	}
	n, err := node.New(node.Config{FS: vfs.NewMem(), Genesis: g, Key: val, Judge: judge})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	w.node = n
	w.send(w.user, chain.TxRegisterRollup, &chain.RollupConfig{L2ChainID: l2ChainID, TreeDepth: depth, BatchSize: batchSize,
		SequencerBond: bond, ChallengeWindow: window, ForcedInclusionWindow: forced, ExodusTimeout: 1 << 20,
		Sequencers: []common.Address{w.seqKey.Address()}, ChallengeBond: challengeBond})
	w.blockOK()
	if w.state, err = l2.NewState(depth); err != nil {
		t.Fatal(err)
	}
	for i := range l2Signers {
		w.signers = append(w.signers, l2test.NewSigner(big.NewInt(int64(7000+i))))
	}
	return w
}

// challenger returns a challenger of the rollup following the node in process, driven by Step.
func (w *world) challenger(executor string, key byte, dir string) *challenger.Challenger {
	w.t.Helper()
	cfg := challenger.Config{Dir: dir, Source: nodesource.New(w.node), Key: l1Key(key), L1ChainID: l1ChainID,
		RollupID: rollupID, Executor: executor}
	if dir == "" {
		cfg.FS = vfs.NewMem()
	}
	ch, err := challenger.New(w.ctx, cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { ch.Stop() })
	return ch
}

// send signs an L1 transaction and puts it in the mempool; the next block includes it.
func (w *world) send(k *pqkey.PrivateKey, typ chain.TxType, payload any) {
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
}

func (w *world) block() *chain.Result {
	w.t.Helper()
	r, err := w.node.ProduceBlock(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// blockOK produces a block in which every transaction must succeed.
func (w *world) blockOK() *chain.Result {
	w.t.Helper()
	r := w.block()
	for i, err := range r.Errs {
		if err != nil {
			w.t.Fatalf("L1 block %d, tx %d: %v", r.Header.Height, i, err)
		}
	}
	return r
}

// deposit queues an L1 deposit to signer s's L2 key; the next batch places it.
func (w *world) deposit(s int, amount uint64) {
	pk := w.signers[s].Public()
	w.send(w.user, chain.TxDeposit, &chain.Deposit{RollupID: rollupID, Amount: amount, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
}

// sign signs tx with the key of account from.
func (w *world) sign(tx *l2.Tx) {
	a, _ := w.state.Account(tx.From)
	for _, s := range w.signers {
		if s.Public() == a.PubKey {
			s.Sign(l2ChainID, tx, l2test.TorsionPoint(1))
			return
		}
	}
	w.t.Fatalf("no key for account %d", tx.From)
}

// transfer returns a signed transfer at the sender's next nonce in the state so far.
func (w *world) transfer(from, to uint32, amount uint64) l2.Tx {
	a, _ := w.state.Account(from)
	tx := l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: a.Nonce}
	w.sign(&tx)
	return tx
}

// withdraw returns a signed withdraw at the sender's next nonce in the state so far.
func (w *world) withdraw(from uint32, amount uint64) l2.Tx {
	a, _ := w.state.Account(from)
	tx := l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: a.Nonce, Address: [20]byte{0: 0xd0}}
	w.sign(&tx)
	return tx
}

// batch is a batch as posted: its commitment, data and trace, and the L2 state it starts from.
type batch struct {
	pre      *l2.State
	consumed uint64 // deposits consumed before it
	c        l2.Commitment
	txs      []l2.Tx
	data     []byte
	trace    []fr.Element
	wleaves  []fr.Element
}

// next executes the queued deposits and the transactions next gives (called until it returns
// false, each time against the state so far) by the rules, drops the failing ones, and returns
// the batch of what is left, not yet posted. The deposits go at random positions; a deposit of a
// key already in the state credits its account, of a new key creates one.
func (w *world) next(rng *rand.Rand, tx func(s *l2.State) (l2.Tx, bool)) *batch {
	w.t.Helper()
	r, err := w.node.Rollup(rollupID)
	if err != nil {
		w.t.Fatal(err)
	}
	var deps []l2.Tx
	for j := w.consumed; j < r.QueueLen; j++ {
		d, err := w.node.Deposit(rollupID, j)
		if err != nil {
			w.t.Fatal(err)
		}
		var pk l2.PublicKey
		pk.X.SetBytes(d.PKX[:])
		pk.Y.SetBytes(d.PKY[:])
		i, ok := w.indexOf[pk]
		if !ok {
			i = uint32(len(w.indexOf)*37+5) % (1 << depth) // spread over the tree
			w.indexOf[pk] = i
		}
		deps = append(deps, l2.Tx{Type: l2.TxDeposit, From: i, Amount: d.Amount, PubKey: pk})
	}
	b := &batch{pre: w.state.Clone(), consumed: w.consumed}
	opts := l2.ApplyOptions{ChainID: l2ChainID, VerifySignatures: true}
	apply := func(t l2.Tx) bool {
		st, wleaf := w.state.Apply(&t, opts)
		if st != l2.StatusOK {
			w.stats.dropped++
			return false
		}
		w.stats.kept++
		switch t.Type {
		case l2.TxDeposit:
			w.stats.deposits++
		case l2.TxWithdraw:
			w.stats.withdraws++
		}
		b.txs, b.trace, b.wleaves = append(b.txs, t), append(b.trace, w.state.Root()), append(b.wleaves, wleaf)
		return true
	}
	for {
		if len(deps) > 0 && rng.IntN(3) == 0 {
			if !apply(deps[0]) {
				w.t.Fatalf("deposit %+v fails", deps[0])
			}
			deps = deps[1:]
			continue
		}
		t, more := tx(w.state)
		if !more || len(b.txs)+len(deps) >= batchSize {
			break
		}
		apply(t)
	}
	for _, d := range deps {
		if !apply(d) {
			w.t.Fatalf("deposit %+v fails", d)
		}
	}
	if len(b.txs) == 0 {
		apply(l2.Tx{Type: l2.TxNoop})
	}
	return w.seal(b)
}

// lie returns a batch of txs as a sequencer posts it that executes them with opts and keeps
// every one, failing or not (the state it continues from is the one opts give). Its commitment
// can then be corrupted further, and sealed again.
func (w *world) lie(txs []l2.Tx, opts l2.ApplyOptions) *batch {
	w.t.Helper()
	b := &batch{pre: w.state.Clone(), consumed: w.consumed, txs: txs}
	for k := range txs {
		_, wleaf := w.state.Apply(&txs[k], opts)
		b.trace, b.wleaves = append(b.trace, w.state.Root()), append(b.wleaves, wleaf)
	}
	return w.seal(b)
}

// seal sets b's data and commitment from its transactions, trace and withdrawal leaves, as the
// next batch: the new root is the last trace entry.
func (w *world) seal(b *batch) *batch {
	w.t.Helper()
	b.data = l2.EncodeBatch(b.txs)
	dh, err := l2.DataHash(b.data)
	if err != nil {
		w.t.Fatal(err)
	}
	deposits := uint64(0)
	for k := range b.txs {
		if b.txs[k].Type == l2.TxDeposit {
			deposits++
		}
	}
	n := len(b.txs)
	b.c = l2.Commitment{ChainID: l2ChainID, BatchNumber: w.number + 1, PrevRoot: b.pre.Root(), NewRoot: b.trace[n-1],
		DepositsBefore: w.dq(b.consumed), DepositsAfter: w.dq(b.consumed + deposits),
		WithdrawalRoot: l2.ListRoot(b.wleaves), DataHash: dh, TraceRoot: l2.ListRoot(b.trace), TxCount: uint64(n)}
	w.consumed, w.number = b.consumed+deposits, w.number+1
	return b
}

// reseal makes b's commitment commit to its trace again after the test changed it (the trace
// root; the new root if newRoot).
func (b *batch) reseal(newRoot bool) {
	b.c.TraceRoot = l2.ListRoot(b.trace)
	if newRoot {
		b.c.NewRoot = b.trace[len(b.trace)-1]
	}
}

// revert forgets b and every batch after it (L1 reverted them): the next batch starts from b's
// previous root again.
func (w *world) revert(b *batch) {
	w.state, w.consumed, w.number = b.pre.Clone(), b.consumed, b.c.BatchNumber-1
}

// dq is the deposit queue chain value dq[j] (docs/protocol.md §8.4).
func (w *world) dq(j uint64) fr.Element {
	w.t.Helper()
	if j == 0 {
		return fr.Element{}
	}
	d, err := w.node.Deposit(rollupID, j-1)
	if err != nil {
		w.t.Fatal(err)
	}
	var e fr.Element
	e.SetBytes(d.Chain[:])
	return e
}

// post sends batch b to L1 as it is (a test may have corrupted its commitment or trace).
func (w *world) post(b *batch) {
	w.t.Helper()
	frame, err := chain.CompressBatch(b.data)
	if err != nil {
		w.t.Fatal(err)
	}
	c := &b.c
	p := &chain.SubmitBatch{RollupID: rollupID, Mode: chain.ModeOptimistic, Number: c.BatchNumber,
		PrevRoot: c.PrevRoot.Bytes(), NewRoot: c.NewRoot.Bytes(), DepositsBefore: c.DepositsBefore.Bytes(),
		DepositsAfter: c.DepositsAfter.Bytes(), WithdrawalRoot: c.WithdrawalRoot.Bytes(), DataHash: c.DataHash.Bytes(),
		TraceRoot: c.TraceRoot.Bytes(), TxCount: c.TxCount, Data: frame}
	for k := range b.trace {
		p.Trace = append(p.Trace, b.trace[k].Bytes())
	}
	w.send(w.seqKey, chain.TxSubmitBatch, p)
}

// randomTx returns a transfer or withdraw of an account of s, valid most of the time; otherwise
// one of the ways a transaction fails (wrong nonce, more than the balance, an empty recipient,
// an index outside the tree, a bad signature), which the rules drop.
func (w *world) randomTx(rng *rand.Rand, s *l2.State) l2.Tx {
	accs := s.Accounts()
	if len(accs) == 0 {
		return l2.Tx{Type: l2.TxNoop}
	}
	from := accs[rng.IntN(len(accs))]
	tx := l2.Tx{Type: l2.TxTransfer, From: from.Index, To: accs[rng.IntN(len(accs))].Index, Nonce: from.Account.Nonce,
		Amount: rng.Uint64N(from.Account.Balance/4 + 1)}
	if rng.IntN(4) == 0 {
		tx = l2.Tx{Type: l2.TxWithdraw, From: from.Index, Nonce: from.Account.Nonce, Amount: rng.Uint64N(from.Account.Balance/8 + 1),
			Address: [20]byte{0: 0xee, 19: byte(rng.Uint32())}}
	}
	badSig := false
	if rng.IntN(5) == 0 {
		switch rng.IntN(6) {
		case 0:
			tx.Nonce += 1 + rng.Uint64N(2)
		case 1:
			tx.Amount = from.Account.Balance + 1 + rng.Uint64N(10)
		case 2:
			if tx.Type == l2.TxTransfer {
				tx.To = (tx.To + 1 + rng.Uint32N(3)) % (1 << depth) // probably empty
			}
		case 3:
			tx.From = 1<<depth + rng.Uint32N(1000)
		case 4:
			if tx.Type == l2.TxTransfer {
				tx.To = 1<<depth + rng.Uint32N(1000)
			}
		default:
			badSig = true
		}
	}
	if uint64(tx.From) < 1<<depth {
		w.sign(&tx)
	}
	if badSig {
		var one fr.Element
		one.SetOne()
		tx.Sig.S.Add(&tx.Sig.S, &one)
	}
	return tx
}

func (w *world) balance(a common.Address) uint64 {
	w.t.Helper()
	acct, err := w.node.Account(a)
	if err != nil {
		w.t.Fatal(err)
	}
	return acct.Balance
}

func (w *world) rollup() *chain.Rollup {
	w.t.Helper()
	r, err := w.node.Rollup(rollupID)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}
