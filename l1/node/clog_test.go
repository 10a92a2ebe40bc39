package node

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

var clogFees = chain.Fees{Base: 1000, PerByte: 1, BatchPerKiB: 100}

const clogFunds = 1_000_000_000

// clogNet is a node with fees on, a registered rollup, and funded honest parties.
type clogNet struct {
	cfg            Config
	n              *Node
	seq, depositor *pqkey.PrivateKey
	rollup         chain.RollupConfig
}

func newClogNet(t *testing.T, junk []*pqkey.PrivateKey) *clogNet {
	t.Helper()
	c := &clogNet{seq: key(10), depositor: key(11)}
	c.cfg = Config{Dir: t.TempDir(), Key: validator, MaxMempoolTxs: 40, Genesis: chain.Genesis{ChainID: chainID,
		Validator: validator.Public().Bytes(), Fees: clogFees}}
	for _, k := range append([]*pqkey.PrivateKey{validator, c.seq, c.depositor}, junk...) {
		c.cfg.Genesis.Alloc = append(c.cfg.Genesis.Alloc, chain.Alloc{Address: k.Address(), Balance: clogFunds})
	}
	c.n = newNode(t, c.cfg)
	c.rollup = chain.RollupConfig{L2ChainID: 77, VKHash: [32]byte{1}, TreeDepth: 4, BatchSize: 16, SequencerBond: 1000,
		ChallengeWindow: 5, ForcedInclusionWindow: 10, ExodusTimeout: 50, Sequencers: []common.Address{c.seq.Address()}}
	c.mustSubmit(t, sign(t, validator, chain.TxRegisterRollup, 0, &c.rollup))
	if r := produce(t, c.n); len(r.Receipts) != 1 || !r.Receipts[0].OK {
		t.Fatalf("registration: %+v", r.Receipts)
	}
	return c
}

func sign(t *testing.T, k *pqkey.PrivateKey, typ chain.TxType, nonce uint64, payload any) []byte {
	t.Helper()
	raw, err := chain.SignTx(k, typ, chainID, nonce, payload)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (c *clogNet) mustSubmit(t *testing.T, raw []byte) {
	t.Helper()
	if _, err := c.n.SubmitTx(raw); err != nil {
		t.Fatalf("honest submission refused: %v", err)
	}
}

// batchConsuming is the sequencer's optimistic batch 1 that consumes deposit 0 of rollup 1
// into account 0.
func (c *clogNet) batchConsuming(t *testing.T, pk l2.PublicKey, amount uint64) *chain.SubmitBatch {
	t.Helper()
	d, err := c.n.Deposit(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l2.NewState(int(c.rollup.TreeDepth))
	if err != nil {
		t.Fatal(err)
	}
	prev := st.Root()
	txs := []l2.Tx{{Type: l2.TxDeposit, From: 0, Amount: amount, PubKey: pk}}
	res := st.ApplyBatch(txs, l2.ApplyOptions{ChainID: c.rollup.L2ChainID, VerifySignatures: true})
	if res.Applied != 1 {
		t.Fatalf("L2 deposit: %v", res.Statuses)
	}
	data := l2.EncodeBatch(txs)
	dh, err := l2.DataHash(data)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := chain.CompressBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	return &chain.SubmitBatch{RollupID: 1, Mode: chain.ModeOptimistic, Number: 1, PrevRoot: prev.Bytes(),
		NewRoot: res.FinalRoot.Bytes(), DepositsAfter: d.Chain, WithdrawalRoot: res.WithdrawalRoot.Bytes(),
		DataHash: dh.Bytes(), TraceRoot: res.TraceRoot.Bytes(), TxCount: 1, Data: frame, Trace: [][32]byte{res.PostRoots[0].Bytes()}}
}

func l2Key(t *testing.T) *l2.PrivateKey {
	t.Helper()
	k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// junkNonce spreads 10,000 transactions over the nonces 1..10,100 (nonce 0 withheld).
func junkNonce(i int) uint64 { return uint64(1 + i + i/100) }

// TestL1MempoolClog replays the clogging attack of issue 13: an unfunded fresh key sends
// 10,000 validly signed zero-value transfers with nonces in 1..10,100, nonce 0 withheld, and
// funded junk keys fill what the policy lets them. The honest deposit and batch submission
// still enter and are included in the next blocks, an included transaction resubmitted is
// refused, and junk written to the mempool log does not come back with a restart.
func TestL1MempoolClog(t *testing.T) {
	attempts := 10_000
	if testing.Short() {
		attempts = 1_000 // the race run: signing and verifying dominate
	}
	funded := []*pqkey.PrivateKey{key(20), key(21), key(22)}
	c := newClogNet(t, funded)
	n := c.n

	attacker := key(30)
	junk := make([][]byte, attempts)
	for i := range junk {
		junk[i] = sign(t, attacker, chain.TxTransfer, junkNonce(i), &chain.Transfer{To: bob.Address()})
	}
	for i, raw := range junk {
		_, err := n.SubmitTx(raw)
		if !errors.Is(err, ErrNoBalance) && !errors.Is(err, ErrNonceTooHigh) {
			t.Fatalf("unfunded junk %d admitted or refused for another reason: %v", i, err)
		}
	}
	// Funded junk: each key gets DefaultMaxNonceGap transactions past its withheld nonce 0
	// until the general share of the pool is full; the rest is refused.
	admitted := 0
	for _, k := range funded {
		for nonce := uint64(1); nonce <= 40; nonce++ {
			_, err := n.SubmitTx(sign(t, k, chain.TxTransfer, nonce, &chain.Transfer{To: bob.Address()}))
			switch {
			case err == nil:
				admitted++
			case !errors.Is(err, ErrNonceTooHigh) && !errors.Is(err, ErrMempoolFull):
				t.Fatalf("funded junk nonce %d: %v", nonce, err)
			}
		}
	}
	general := c.cfg.MaxMempoolTxs - c.cfg.MaxMempoolTxs/RollupReserveDiv
	if admitted != general {
		t.Fatalf("%d funded junk transactions admitted, want the general share %d", admitted, general)
	}
	st := n.MempoolStats()
	if st.Refused["no_balance"] == 0 || st.Refused["nonce_too_high"] < uint64(attempts) || st.Refused["full"] == 0 {
		t.Fatalf("refusals %+v", st.Refused)
	}

	// An honest transfer evicts a junk transaction waiting for its nonce; the deposit takes
	// the rollup reserve.
	c.mustSubmit(t, sign(t, c.depositor, chain.TxTransfer, 0, &chain.Transfer{To: bob.Address(), Amount: 5}))
	if ev := n.MempoolStats().Evicted; ev != 1 {
		t.Fatalf("%d evicted for the honest transfer, want 1", ev)
	}
	pk := l2Key(t).Public()
	c.mustSubmit(t, sign(t, c.depositor, chain.TxDeposit, 1, &chain.Deposit{RollupID: 1, Amount: 500,
		PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()}))
	r := produce(t, n)
	if len(r.Receipts) != 2 || !r.Receipts[0].OK || !r.Receipts[1].OK {
		t.Fatalf("block after the flood: %+v", r.Receipts)
	}
	if ro, err := n.Rollup(1); err != nil || ro.QueueLen != 1 || ro.Escrow != 500 {
		t.Fatalf("deposit not queued: %+v %v", ro, err)
	}
	// The included transfer resubmitted is refused, it takes no block space.
	if _, err := n.SubmitTx(sign(t, c.depositor, chain.TxTransfer, 0, &chain.Transfer{To: bob.Address(), Amount: 5})); !errors.Is(err, ErrNonceTooLow) {
		t.Fatalf("resubmitted included transaction: %v", err)
	}

	c.mustSubmit(t, sign(t, c.seq, chain.TxSubmitBatch, 0, c.batchConsuming(t, pk, 500)))
	r = produce(t, n)
	if len(r.Receipts) != 1 || !r.Receipts[0].OK {
		t.Fatalf("batch submission: %+v", r.Receipts)
	}
	if ro, err := n.Rollup(1); err != nil || ro.HeadNumber != 1 {
		t.Fatalf("batch not accepted: %+v %v", ro, err)
	}

	// Restart with the unfunded attacker's junk written straight into the mempool log (as the
	// node of issue 13 kept it): re-validation drops every entry.
	pending := n.MempoolStats()
	before, _ := n.Status()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	db, err := pebble.Open(c.cfg.Dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for i, raw := range junk {
		if err := b.Set(walKey(1<<40+uint64(i)), raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := newNode(t, c.cfg)
	after, _ := n2.Status()
	if after.MempoolTxs != before.MempoolTxs || before.MempoolTxs > general {
		t.Fatalf("mempool before the restart %d, after %d (stats %+v)", before.MempoolTxs, after.MempoolTxs, pending)
	}
	it, err := n2.db.NewIter(&pebble.IterOptions{LowerBound: walKey(1 << 40), UpperBound: []byte("w0")})
	if err != nil {
		t.Fatal(err)
	}
	if it.First() {
		t.Fatalf("junk log entry %x kept", it.Key())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	// The next block holds none of it either.
	r, err = n2.ProduceBlock(context.Background())
	if err != nil || len(r.Receipts) != 0 {
		t.Fatalf("block after restart: %+v %v", r, err)
	}
}

// TestStatusReplyCarriesFees: l1_status carries the chain's fees, and a reply without the
// optional fields (an older node) still decodes, with zero fees.
func TestStatusReplyCarriesFees(t *testing.T) {
	b, err := rlp.EncodeToBytes(&StatusReply{ChainID: 1, Height: 2, Fees: clogFees})
	if err != nil {
		t.Fatal(err)
	}
	var got StatusReply
	if err := rlp.DecodeBytes(b, &got); err != nil || got.Fees != clogFees || got.Height != 2 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	old, err := rlp.EncodeToBytes([]any{uint64(1), uint64(2), common.Hash{}, common.Hash{}, uint64(0), uint64(0), uint64(0)})
	if err != nil {
		t.Fatal(err)
	}
	got = StatusReply{}
	if err := rlp.DecodeBytes(old, &got); err != nil || !got.Fees.IsZero() || got.Height != 2 {
		t.Fatalf("decoded an old reply as %+v, %v", got, err)
	}
}
