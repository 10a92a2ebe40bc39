package sequencer

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l2"
)

func TestDepositsInOrder(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 3, 1)
	// Queue: A 10, B 20, A 5 (A's existing account), C 7, A max (would overflow: fresh index).
	for _, d := range []struct {
		k      int
		amount uint64
	}{{0, 10}, {1, 20}, {0, 5}, {2, 7}, {0, math.MaxUint64}} {
		h.deps.Add(keys[d.k].Public(), d.amount)
	}
	waitFor(t, "deposits", func() bool { return h.status().DepositCursor == 5 })
	idx := h.depositIndices(0, 5)
	if want := []uint32{0, 1, 0, 2, 3}; !equalU32(idx, want) {
		t.Fatalf("deposit placement %v, want %v", idx, want)
	}
	for _, c := range []struct {
		index   uint32
		key     int
		balance uint64
	}{{0, 0, 15}, {1, 1, 20}, {2, 2, 7}, {3, 0, math.MaxUint64}} {
		a := h.account(c.index)
		pk := keys[c.key].Public()
		if !a.Exists || a.PubKeyX != pk.X.Bytes() || uint64(a.Balance) != c.balance {
			t.Fatalf("account %d: %+v, want key %d balance %d", c.index, a, c.key, c.balance)
		}
		var leaf = l2.Account{PubKey: pk, Balance: c.balance}.Leaf()
		sib := make([]fr32, len(a.Proof))
		copy(sib, a.Proof)
		if !verifyProof(a.Root, 10, c.index, leaf, sib) {
			t.Fatalf("account %d: proof does not verify", c.index)
		}
	}
	// Deposits are consumed in queue order across blocks.
	next := uint64(0)
	for _, b := range h.blocks() {
		if uint64(b.DepositStart) != next {
			t.Fatalf("block %d deposits start at %d, want %d", b.Number, b.DepositStart, next)
		}
		next = uint64(b.DepositEnd)
	}
	replayReference(t, 10, h.blocks())
}

func TestTransfersAndWithdrawals(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 2, 2)
	idx := h.fund(keys, 1000)
	tr := h.mustSend(signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: idx[0], To: idx[1], Amount: 300, Nonce: 0}))
	h.waitReceipt(tr) // admission counts the recipient's balance only once credited
	wd := h.mustSend(signed(t, keys[1], l2.Tx{Type: l2.TxWithdraw, From: idx[1], Amount: 1200, Nonce: 0, Address: [20]byte{0xaa, 1}}))
	if r := h.waitReceipt(wd); !r.Included || r.Status != "ok" {
		t.Fatalf("withdraw receipt %+v", r)
	}
	if r := h.waitReceipt(tr); !r.Included || r.Status != "ok" {
		t.Fatalf("transfer receipt %+v", r)
	}
	if a := h.account(idx[0]); a.Balance != 700 || a.Nonce != 1 {
		t.Fatalf("sender %+v", a)
	}
	if a := h.account(idx[1]); a.Balance != 100 || a.Nonce != 1 {
		t.Fatalf("recipient %+v", a)
	}
	// The same bytes again: acknowledged again (idempotent), executed once.
	if again := h.mustSend(signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: idx[0], To: idx[1], Amount: 300, Nonce: 0})); again != tr {
		t.Fatal("resend gave another hash")
	}
	st := replayReference(t, 10, h.blocks())
	if common.Hash(rootBytes(st)) != h.status().Root {
		t.Fatal("reference replay root differs from the sequencer's")
	}
	var withdrawals bool
	for _, b := range h.blocks() {
		withdrawals = withdrawals || b.WithdrawalRoot != common.Hash(l2EmptyList())
	}
	if !withdrawals {
		t.Fatal("no block has a withdrawal")
	}
}

func TestInvalidTransactions(t *testing.T) {
	cfg := testConfig(t)
	cfg.Mempool.MaxPerSender = 4
	h := start(t, cfg)
	keys := newKeys(t, 4, 3)
	idx := h.fund(keys[:3], 1000)
	// Account 2 holds nearly 2^64-1, so crediting it overflows.
	h.deps.Add(keys[3].Public(), math.MaxUint64-10)
	waitFor(t, "deposit", func() bool { return h.status().DepositCursor == 4 })
	rich := h.depositIndices(3, 4)[0]
	a, b := idx[0], idx[1]
	good := l2.Tx{Type: l2.TxTransfer, From: a, To: b, Amount: 1, Nonce: 0}
	h.waitReceipt(h.mustSend(signed(t, keys[0], good))) // account a is at nonce 1 now
	with := func(f func(*l2.Tx)) []byte {
		tx := good
		tx.Nonce = 1
		f(&tx)
		return signed(t, keys[0], tx)
	}
	raw := with(func(*l2.Tx) {})
	corrupt := func(f func([]byte)) []byte {
		c := append([]byte(nil), raw...)
		f(c)
		return c
	}
	h.mustSend(with(func(tx *l2.Tx) { tx.Nonce = 2 })) // pending, so nonce 2 is taken below
	cases := []struct {
		name string
		raw  []byte
		code int
	}{
		{"tx_size", raw[:159], CodeTxSize},
		{"malformed", corrupt(func(c []byte) { c[0] = 1 }), CodeMalformed},
		{"non_canonical", corrupt(func(c []byte) { copy(c[64:96], bytesFF()) }), CodeNonCanonical},
		{"unknown_type", corrupt(func(c []byte) { c[7] = 7 }), CodeUnknownType},
		{"type_not_allowed", func() []byte {
			tx := l2.Tx{Type: l2.TxDeposit, From: a, Amount: 5, PubKey: keys[0].Public()}
			e := tx.Encode()
			return e[:]
		}(), CodeTypeNotAllowed},
		{"refund", func() []byte {
			tx := l2.Tx{Type: l2.TxRefund, Amount: 5, PubKey: keys[0].Public(), Address: [20]byte{1}}
			e := tx.Encode()
			return e[:]
		}(), CodeTypeNotAllowed},
		{"noop", make([]byte, 160), CodeTypeNotAllowed},
		{"index_out_of_range", with(func(tx *l2.Tx) { tx.To = 1 << 10 }), StatusCode(l2.StatusIndexOutOfRange)},
		{"sender_not_found", signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: 900, To: b, Amount: 1}), StatusCode(l2.StatusSenderNotFound)},
		{"bad_signature", signed(t, keys[1], l2.Tx{Type: l2.TxTransfer, From: a, To: b, Amount: 1, Nonce: 1}), StatusCode(l2.StatusBadSignature)},
		{"bad_signature_chain", func() []byte {
			tx := l2.Tx{Type: l2.TxTransfer, From: a, To: b, Amount: 1, Nonce: 1}
			l2.SignTx(keys[0], testChainID+1, &tx)
			e := tx.Encode()
			return e[:]
		}(), StatusCode(l2.StatusBadSignature)},
		{"bad_nonce", with(func(tx *l2.Tx) { tx.Nonce = 0; tx.Amount = 2 }), StatusCode(l2.StatusBadNonce)},
		{"nonce_exhausted", with(func(tx *l2.Tx) { tx.Nonce = math.MaxUint64 }), StatusCode(l2.StatusNonceExhausted)},
		{"nonce_taken", with(func(tx *l2.Tx) { tx.Nonce = 2; tx.Amount = 2 }), CodeNonceTaken},
		{"nonce_too_high", with(func(tx *l2.Tx) { tx.Nonce = 5 }), CodeNonceTooHigh},
		{"recipient_not_found", with(func(tx *l2.Tx) { tx.To = 901 }), StatusCode(l2.StatusRecipientNotFound)},
		{"insufficient_balance", with(func(tx *l2.Tx) { tx.Amount = 999 }), StatusCode(l2.StatusInsufficientBalance)}, // 1 spent, 1 pending
		{"balance_overflow", with(func(tx *l2.Tx) { tx.To = rich; tx.Amount = 11 }), StatusCode(l2.StatusBalanceOverflow)},
		{"withdraw_insufficient", with(func(tx *l2.Tx) { tx.Type = l2.TxWithdraw; tx.To = 0; tx.Amount = 5000 }), StatusCode(l2.StatusInsufficientBalance)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.send(c.raw)
			if code, reason := rpcCode(err); code != c.code || reason == "" {
				t.Fatalf("error %v: code %d reason %q, want code %d", err, code, reason, c.code)
			}
		})
	}
	var hash common.Hash
	if err := h.c.Call(&hash, "rollup_sendTransaction", "0xzz"); err == nil {
		t.Fatal("bad hex accepted")
	}
	h.waitReceipt(h.mustSend(raw))
	// Nothing invalid reached a block: the reference, signatures checked, accepts every block.
	replayReference(t, 10, h.blocks())
}

func TestMempoolFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.Mempool.MaxTxs = 2
	cfg.Mempool.MaxAge = 10 * time.Millisecond
	h := start(t, cfg)
	keys := newKeys(t, 2, 4)
	idx := h.fund(keys, 100)
	// Nonces 1 and 2 wait behind the gap at nonce 0 and fill the mempool.
	var stuck common.Hash
	for n := uint64(1); n <= 2; n++ {
		stuck = h.mustSend(signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: idx[0], To: idx[1], Amount: 1, Nonce: n}))
	}
	_, err := h.send(signed(t, keys[1], l2.Tx{Type: l2.TxTransfer, From: idx[1], To: idx[0], Amount: 1}))
	if code, _ := rpcCode(err); code != CodeMempoolFull {
		t.Fatalf("third transaction: %v", err)
	}
	// The two stuck behind the gap are evicted after MaxAge; then there is room again.
	waitFor(t, "eviction", func() bool { return h.status().Pending == 0 })
	if r := h.receipt(stuck); r == nil || r.Status != "evicted" {
		t.Fatalf("stuck transaction: %+v", r)
	}
	h.waitReceipt(h.mustSend(signed(t, keys[1], l2.Tx{Type: l2.TxTransfer, From: idx[1], To: idx[0], Amount: 1})))
}

// TestDroppedNeverInBlock makes a transaction pass admission and fail at execution: two
// transfers into the same account that each fit below 2^64 but not together, admitted against
// the same state (blocks are built only when the test kicks the builder).
func TestDroppedNeverInBlock(t *testing.T) {
	cfg := testConfig(t)
	cfg.BlockInterval = time.Hour
	h := start(t, cfg)
	build := func() { h.s.run.kick <- struct{}{} }
	keys := newKeys(t, 3, 5)
	for _, k := range keys {
		h.deps.Add(k.Public(), math.MaxUint64/2)
	}
	build()
	waitFor(t, "deposits", func() bool { return h.status().DepositCursor == 3 })
	idx := h.depositIndices(0, 3)
	var hashes [2]common.Hash
	for i := range 2 {
		hashes[i] = h.mustSend(signed(t, keys[i], l2.Tx{Type: l2.TxTransfer, From: idx[i], To: idx[2], Amount: math.MaxUint64 / 2}))
	}
	build()
	first, second := h.waitReceipt(hashes[0]), h.waitReceipt(hashes[1])
	if !first.Included || first.Status != "ok" {
		t.Fatalf("first transfer: %+v", first)
	}
	if second.Included || second.Status != "balance_overflow" {
		t.Fatalf("second transfer: %+v, want dropped with balance_overflow", second)
	}
	for _, b := range h.blocks() {
		for _, x := range b.TxHashes {
			if x == hashes[1] {
				t.Fatal("the failing transfer reached a block")
			}
		}
	}
	// Its nonce is free again: the sender can send another transaction with it.
	h.mustSend(signed(t, keys[1], l2.Tx{Type: l2.TxTransfer, From: idx[1], To: idx[0], Amount: 1}))
	build()
	replayReference(t, 10, h.blocks())
}

func TestRestartRestoresRootAndAckedTxs(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 4, 6)
	idx := h.fund(keys, 1_000_000)
	var hashes []common.Hash
	for round := range 5 {
		for i := range keys {
			hashes = append(hashes, h.mustSend(signed(t, keys[i], l2.Tx{Type: l2.TxTransfer, From: idx[i], To: idx[(i+1)%4], Amount: uint64(round + 1), Nonce: uint64(round)})))
		}
		h.waitReceipt(hashes[len(hashes)-1])
	}
	for _, x := range hashes {
		h.waitReceipt(x)
	}
	before := h.status()
	h.restart()
	if after := h.status(); after.Root != before.Root || after.Head != before.Head {
		for _, b := range h.blocks() {
			t.Logf("block %d deposits [%d,%d) txs %d", b.Number, b.DepositStart, b.DepositEnd, b.TxCount)
		}
		t.Fatalf("after restart head %d root %x, before %d %x", after.Head, after.Root, before.Head, before.Root)
	}
	for _, x := range hashes {
		if r := h.receipt(x); r == nil || !r.Included {
			t.Fatalf("acked tx %x lost: %+v", x, r)
		}
	}
	// Without the stop snapshot: remove every snapshot, restart replays everything from genesis.
	h.close()
	snaps, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "snapshot-*"))
	for _, f := range snaps {
		os.Remove(f)
	}
	h.open()
	if after := h.status(); after.Root != before.Root {
		t.Fatal("replay from genesis gave another root")
	}
	st := replayReference(t, 10, h.blocks())
	if common.Hash(rootBytes(st)) != before.Root {
		t.Fatal("reference replay gives another root")
	}
}

func TestReplayMismatchFails(t *testing.T) {
	h := start(t, testConfig(t))
	keys := newKeys(t, 2, 7)
	h.fund(keys, 50)
	h.close()
	snaps, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "snapshot-*"))
	for _, f := range snaps {
		os.Remove(f)
	}
	db, err := pebble.Open(filepath.Join(h.cfg.DataDir, "db"), &pebble.Options{Logger: pebbleguard.New(nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	k := u64Key(prefixBlock, 1)
	v, c, err := db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	v = append([]byte(nil), v...)
	c.Close()
	v[8+32*2] ^= 1 // PostRoot of block 1
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := New(h.cfg); err == nil {
		s.Stop()
		t.Fatal("a block whose recorded root differs from its replay was accepted")
	} else {
		t.Log(err)
	}
}

func TestDevDepositRefusedWithoutDev(t *testing.T) {
	h := start(t, testConfig(t))
	pk := newKeys(t, 1, 8)[0].Public()
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	var q hexutil.Uint64
	err := h.c.Call(&q, "rollup_devDeposit", hexutil.Bytes(append(x[:], y[:]...)), hexutil.Uint64(5))
	if code, _ := rpcCode(err); code != CodeDevDisabled {
		t.Fatalf("devDeposit without --dev: %v", err)
	}
}

func TestSubscribeNewBlocks(t *testing.T) {
	h := start(t, testConfig(t))
	ch := make(chan *RPCBlock, 16)
	sub, err := h.c.Subscribe(t.Context(), "rollup", ch, "newBlocks")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	keys := newKeys(t, 1, 9)
	h.deps.Add(keys[0].Public(), 9)
	b := <-ch
	if b.Number != 1 || b.DepositEnd != 1 || len(b.TxHashes) != 1 {
		t.Fatalf("block %+v", b)
	}
}

func TestLifecycle(t *testing.T) {
	cfg := testConfig(t)
	cfg.ListenAddr = ""
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, l2.TxSize)
	if _, err := s.SendTransaction(t.Context(), raw); err != ErrStopped {
		t.Fatalf("send before Start: %v", err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendTransaction(t.Context(), raw); err == ErrStopped {
		t.Fatal("send after Start refused as stopped")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := s.SendTransaction(t.Context(), raw); err != ErrStopped {
		t.Fatalf("send after Stop: %v", err)
	}
	// Another chain's data dir is refused.
	cfg.ChainID++
	if _, err := New(cfg); err == nil {
		t.Fatal("a data dir of another chain was accepted")
	}
}
