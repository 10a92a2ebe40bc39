package sequencer

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l2"
)

const testChainID = 7

func TestMain(m *testing.M) { os.Exit(proctest.Run(m)) }

// harness is a real sequencer (real pebble, real core) served over loopback JSON-RPC.
type harness struct {
	t    *testing.T
	cfg  Config
	s    *Sequencer
	deps *MemoryDepositSource
	c    *rpc.Client
}

func testConfig(t *testing.T) Config {
	return Config{DataDir: t.TempDir(), ChainID: testChainID, Depth: 10, BlockInterval: 5 * time.Millisecond,
		MaxBlockTxs: 256, SnapshotEvery: 3, ListenAddr: "127.0.0.1:0"}
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, cfg: cfg, deps: &MemoryDepositSource{}}
	if cfg.Deposits == nil && !cfg.Dev {
		h.cfg.Deposits = h.deps
	}
	h.open()
	t.Cleanup(func() { h.close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	s, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	c, err := rpc.Dial("ws://" + s.Addr().String())
	if err != nil {
		h.t.Fatal(err)
	}
	h.s, h.c = s, c
}

func (h *harness) close() {
	if h.s == nil {
		return
	}
	h.c.Close()
	if err := h.s.Stop(); err != nil {
		h.t.Error(err)
	}
	h.s = nil
}

func (h *harness) restart() {
	h.t.Helper()
	h.close()
	h.open()
}

func newKeys(t testing.TB, n int, seed uint64) []*l2.PrivateKey {
	t.Helper()
	var s [32]byte
	s[0] = byte(seed)
	rng := rand.New(rand.NewChaCha8(s))
	keys := make([]*l2.PrivateKey, n)
	for i := range keys {
		k, err := l2.GenerateKey(readerFunc(func(p []byte) (int, error) {
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			return len(p), nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func signed(t testing.TB, k *l2.PrivateKey, tx l2.Tx) []byte {
	t.Helper()
	if err := l2.SignTx(k, testChainID, &tx); err != nil {
		t.Fatal(err)
	}
	b := tx.Encode()
	return b[:]
}

func (h *harness) send(raw []byte) (common.Hash, error) {
	var hash common.Hash
	err := h.c.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(raw))
	return hash, err
}

func (h *harness) mustSend(raw []byte) common.Hash {
	h.t.Helper()
	hash, err := h.send(raw)
	if err != nil {
		h.t.Fatalf("send: %v", err)
	}
	return hash
}

// waitFor waits up to 20 s for cond: the sequencer's own progress, or a pqsequencer process's.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	proctest.WaitFor(t, what, 20*time.Second, cond)
}

func (h *harness) receipt(hash common.Hash) *RPCReceipt {
	h.t.Helper()
	var r *RPCReceipt
	if err := h.c.Call(&r, "rollup_getReceipt", hash); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) waitReceipt(hash common.Hash) *RPCReceipt {
	h.t.Helper()
	var r *RPCReceipt
	waitFor(h.t, "receipt", func() bool {
		r = h.receipt(hash)
		return r != nil && r.Status != "pending"
	})
	return r
}

func (h *harness) account(i uint32) RPCAccount {
	h.t.Helper()
	var a RPCAccount
	if err := h.c.Call(&a, "rollup_getAccount", i, true); err != nil {
		h.t.Fatal(err)
	}
	return a
}

func (h *harness) status() RPCStatus {
	h.t.Helper()
	var st RPCStatus
	if err := h.c.Call(&st, "rollup_getStatus"); err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) blocks() []*RPCBlock {
	h.t.Helper()
	var out []*RPCBlock
	for n := uint64(1); ; n++ {
		var b *RPCBlock
		if err := h.c.Call(&b, "rollup_getBlock", hexutil.Uint64(n), true); err != nil {
			h.t.Fatal(err)
		}
		if b == nil {
			return out
		}
		out = append(out, b)
	}
}

// fund deposits amount to each key through the in-memory L1 queue and returns the account
// index each deposit landed at.
func (h *harness) fund(keys []*l2.PrivateKey, amount uint64) []uint32 {
	h.t.Helper()
	first := uint64(0)
	for i, k := range keys {
		q := h.deps.Add(k.Public(), amount)
		if i == 0 {
			first = q
		}
	}
	end := first + uint64(len(keys))
	waitFor(h.t, "deposits", func() bool { return uint64(h.status().DepositCursor) >= end })
	return h.depositIndices(first, end)
}

// depositIndices reads the account index of queue entries [from, to) from the blocks.
func (h *harness) depositIndices(from, to uint64) []uint32 {
	h.t.Helper()
	out := make([]uint32, to-from)
	for _, b := range h.blocks() {
		for q := uint64(b.DepositStart); q < uint64(b.DepositEnd); q++ {
			if q < from || q >= to {
				continue
			}
			tx, err := l2.DecodeTx(b.Transactions[q-uint64(b.DepositStart)])
			if err != nil {
				h.t.Fatal(err)
			}
			out[q-from] = tx.From
		}
	}
	return out
}

// replayReference re-executes every block with the Go reference, signatures checked, and
// returns its state: every transaction must succeed and every root match the header.
func replayReference(t testing.TB, depth int, blocks []*RPCBlock) *l2.State {
	t.Helper()
	return replayReferenceKeys(t, depth, blocks, nil)
}

// replayReferenceKeys is replayReference with the ML-DSA keys of the accounts (the blocks'
// transactions are in their interleaved form: a type 5/6 record followed by its signature).
func replayReferenceKeys(t testing.TB, depth int, blocks []*RPCBlock, keys l2.KeyBook) *l2.State {
	t.Helper()
	st, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[common.Hash]bool)
	for _, b := range blocks {
		var data []byte
		for _, raw := range b.Transactions {
			data = append(data, raw...)
		}
		txs, _, err := l2.DecodeBatchData(data)
		if err != nil {
			t.Fatalf("block %d: %v", b.Number, err)
		}
		prev := st.Root()
		if common.Hash(prev.Bytes()) != b.PrevRoot {
			t.Fatalf("block %d: prev root mismatch", b.Number)
		}
		r := st.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true, Keys: keys})
		for k, s := range r.Statuses {
			if s != l2.StatusOK {
				t.Fatalf("block %d tx %d: status %s in a block", b.Number, k, s)
			}
		}
		if common.Hash(r.FinalRoot.Bytes()) != b.PostRoot || common.Hash(r.TraceRoot.Bytes()) != b.TraceRoot ||
			common.Hash(r.WithdrawalRoot.Bytes()) != b.WithdrawalRoot {
			t.Fatalf("block %d: reference roots differ from the header", b.Number)
		}
		for _, x := range b.TxHashes {
			if seen[x] {
				t.Fatalf("block %d: transaction %x executed twice", b.Number, x)
			}
			seen[x] = true
		}
	}
	return st
}

// rpcCode returns the JSON-RPC error code and data reason of err.
func rpcCode(err error) (int, string) {
	var e rpc.Error
	if !errors.As(err, &e) {
		return 0, ""
	}
	reason := ""
	var d rpc.DataError
	if errors.As(err, &d) {
		if m, ok := d.ErrorData().(map[string]any); ok {
			reason, _ = m["reason"].(string)
		}
	}
	return e.ErrorCode(), reason
}

type fr32 = common.Hash

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func bytesFF() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

func rootBytes(s *l2.State) [32]byte { r := s.Root(); return r.Bytes() }

func l2EmptyList() [32]byte { r := l2.ListRoot(nil); return r.Bytes() }

func verifyProof(root common.Hash, depth int, index uint32, leaf fr.Element, sib []common.Hash) bool {
	var r fr.Element
	r.SetBytes(root[:])
	s := make([]fr.Element, len(sib))
	for i := range sib {
		s[i].SetBytes(sib[i][:])
	}
	return l2.VerifyWitness(r, depth, index, leaf, s)
}
