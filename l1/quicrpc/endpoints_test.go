package quicrpc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// The security tests of the L1 node's endpoints: a real node (l1/node on a pebble store,
// producing blocks) serves its API with node.Serve on loopback, and an attacker sends every
// endpoint the envelopes this package's own tests send to its test server (export_test.go).
// Each attack must be refused with an error that names it, and afterwards a legitimate client
// must still get real answers and the chain must still grow.

const nodeChainID = 4244

func nodeKey(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x7c, 1: i})
}

var (
	nodeValidator = nodeKey(0)
	dave          = nodeKey(1) // sends the transactions
	carol         = nodeKey(2) // funded at genesis, never spends: the balance the legitimate client checks
	bob           = nodeKey(3)
	mallory       = nodeKey(4) // the attacker's transport key
)

const carolBalance = 1000

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// target is a running node, a legitimate client and an attacker with two connections.
type target struct {
	n        *node.Node
	addr     string
	legit    *l1client.Client
	attacker *quicrpc.Client
	other    *quicrpc.Client // the attacker's second connection
}

func startTarget(t *testing.T) *target {
	t.Helper()
	n, err := node.New(node.Config{Dir: t.TempDir(), Key: nodeValidator, BlockInterval: 10 * time.Millisecond,
		Genesis: chain.Genesis{ChainID: nodeChainID, Validator: nodeValidator.Public().Bytes(),
			Alloc: []chain.Alloc{{Address: dave.Address(), Balance: 1 << 20}, {Address: carol.Address(), Balance: carolBalance}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		cancel()
		n.Stop()
		t.Fatal(err)
	}
	srv, err := n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		cancel()
		n.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		cancel()
		if err := n.Stop(); err != nil {
			t.Errorf("node stop: %v", err)
		}
	})
	tg := &target{n: n, addr: srv.Addr().String()}
	tg.legit, err = l1client.Dial(ctxT(t), l1client.Config{Addr: tg.addr, ChainID: nodeChainID, Validator: nodeValidator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.legit.Close() })
	tg.attacker, tg.other = tg.dialAttacker(t), tg.dialAttacker(t)
	return tg
}

func (tg *target) dialAttacker(t *testing.T) *quicrpc.Client {
	t.Helper()
	c, err := quicrpc.Dial(ctxT(t), tg.addr, quicrpc.ClientConfig{Key: mallory, ChainID: nodeChainID,
		ValidatorPublicKey: nodeValidator.Public(), MaxMessageSize: l1client.DefaultMaxMessageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stillServes checks the node after an attack: the legitimate client reads carol's real
// balance, the attacker's connection still carries an honest call, and a new block commits.
func (tg *target) stillServes(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	before, err := tg.legit.Status(ctx)
	if err != nil {
		t.Fatalf("legitimate status after the attack: %v", err)
	}
	acct, err := tg.legit.Account(ctx, carol.Address())
	if err != nil || acct.Balance != carolBalance {
		t.Fatalf("legitimate query after the attack: carol %+v, %v; want balance %d", acct, err, carolBalance)
	}
	if _, err := tg.attacker.Call(ctx, node.MethodStatus, nil); err != nil {
		t.Fatalf("an honest call on the attacker's connection after the attack: %v", err)
	}
	// A block above before's commits. The notification of the block before's status read may
	// still be on its way, so wait block by block until the height has moved.
	for {
		next := tg.n.NewBlock() // before the read: a block committed after it closes next
		after, err := tg.legit.Status(ctx)
		if err != nil {
			t.Fatalf("legitimate status after the attack: %v", err)
		}
		if after.Height > before.Height {
			return
		}
		select {
		case <-next:
		case <-ctx.Done():
			t.Fatalf("height %d after the attack, %d before: the chain stopped", after.Height, before.Height)
		}
	}
}

// waitFor waits, block by block, until cond holds.
func (tg *target) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := ctxT(t)
	for {
		next := tg.n.NewBlock()
		if cond() {
			return
		}
		select {
		case <-next:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// endpoint is one method of the node's API with a valid request for it.
type endpoint struct {
	method  string
	payload []byte
	// answer checks the node's genuine answer to payload.
	answer func(t *testing.T, reply []byte, err error)
	// bad is what the node says of a payload that does not decode; tooBig is a payload over the
	// endpoint's own limit (within the transport's) and tooBigText what the node says of it.
	bad        string
	tooBig     int
	tooBigText string
}

func rlpBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decoded checks a successful reply that decodes into out, then cond.
func decoded[T any](cond func(*T) bool) func(t *testing.T, reply []byte, err error) {
	return func(t *testing.T, reply []byte, err error) {
		t.Helper()
		var out T
		if err != nil {
			t.Fatalf("genuine request: %v", err)
		}
		if err := rlp.DecodeBytes(reply, &out); err != nil || !cond(&out) {
			t.Fatalf("genuine request: reply %+v (%v)", out, err)
		}
	}
}

// remote checks the node's signed error answer to a genuine request.
func remote(code string) func(t *testing.T, reply []byte, err error) {
	return func(t *testing.T, reply []byte, err error) {
		t.Helper()
		if !errors.Is(err, quicrpc.ErrRemote) || !strings.Contains(err.Error(), code) {
			t.Fatalf("genuine request: %q, %v; want the node's %s", reply, err, code)
		}
	}
}

// endpoints sets the chain up (a rollup registered by dave) and returns every endpoint of the
// API with a valid request.
func (tg *target) endpoints(t *testing.T) []endpoint {
	t.Helper()
	ctx := ctxT(t)
	cfg := chain.RollupConfig{L2ChainID: 77, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10,
		ExodusTimeout: 100, Sequencers: []common.Address{dave.Address()}}
	register, err := chain.SignTx(dave, chain.TxRegisterRollup, nodeChainID, 0, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.legit.SubmitTx(ctx, register); err != nil {
		t.Fatal(err)
	}
	var included uint64 // the block of the registration
	tg.waitFor(t, "the rollup registration", func() bool {
		acct, err := tg.legit.Account(ctx, dave.Address())
		if err != nil {
			t.Fatal(err)
		}
		if acct.Nonce == 0 {
			return false
		}
		st, err := tg.legit.Status(ctx) // at or above the block that included it
		if err != nil {
			t.Fatal(err)
		}
		for h := st.Height; included == 0 && h > 0; h-- {
			rs, err := tg.legit.Receipts(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 1 && rs[0].TxHash == crypto.Keccak256Hash(register) && rs[0].OK {
				included = h
			}
		}
		if included == 0 {
			t.Fatal("dave's nonce moved but no block has the registration's receipt")
		}
		return true
	})
	transfer, err := chain.SignTx(dave, chain.TxTransfer, nodeChainID, 1, &chain.Transfer{To: bob.Address(), Amount: 10})
	if err != nil {
		t.Fatal(err)
	}
	batch := rlpBytes(t, &node.RollupRef{RollupID: 1, Number: 1})
	badQuery := "bad request payload"
	tooBigQuery := "bad request payload: 65 bytes, at most 64"
	return []endpoint{
		{node.MethodSubmitTx, transfer, decoded(func(h *common.Hash) bool { return *h == crypto.Keccak256Hash(transfer) }),
			"malformed transaction", chain.MaxTxSize + 1, "transaction too large"},
		{node.MethodAccount, rlpBytes(t, carol.Address()), decoded(func(a *chain.Account) bool { return a.Balance == carolBalance }),
			badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodRollup, rlpBytes(t, uint64(1)), decoded(func(r *chain.Rollup) bool { return r.ID == 1 && r.Config.L2ChainID == 77 }),
			badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodBatch, batch, remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodBatchData, batch, remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodBatchTrace, batch, remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodDeposit, rlpBytes(t, &node.RollupRef{RollupID: 1}), remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodExited, rlpBytes(t, &node.AccountRef{RollupID: 1}), decoded(func(exited *bool) bool { return !*exited }),
			badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodRefunded, rlpBytes(t, &node.RollupRef{RollupID: 1}), remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodClaimed, rlpBytes(t, &node.WithdrawalRef{RollupID: 1, Batch: 1}), remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodDelayed, rlpBytes(t, &node.WithdrawalRef{RollupID: 1, Batch: 1}), remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodReserves, rlpBytes(t, uint64(1)), decoded(func(v *chain.Reserves) bool {
			return v.RollupID == 1 && v.On && v.Holds && v.Escrow == 0 && strings.Contains(v.Derivation, "escrow 0 = ")
		}), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodStatus, nil, decoded(func(s *node.StatusReply) bool { return s.ChainID == nodeChainID && s.RollupCount == 1 }),
			"status takes no argument", node.MaxQuerySize + 1, "status takes no argument"},
		{node.MethodBlock, rlpBytes(t, included), decoded(func(b *chain.SealedBlock) bool {
			return b.Header.Height == included && len(b.Txs) == 1 && bytes.Equal(b.Txs[0], register)
		}), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		{node.MethodReceipts, rlpBytes(t, included), decoded(func(rs *[]chain.Receipt) bool {
			return len(*rs) == 1 && (*rs)[0].OK && (*rs)[0].TxHash == crypto.Keccak256Hash(register)
		}), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		// A single-validator node has no certificates (docs/l1.md §9).
		{node.MethodCertificate, rlpBytes(t, included), remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		// A proven read at the head (height 0 on a single-validator node): the proof verifies.
		{node.MethodProveState, rlpBytes(t, &stateproof.Request{Keys: [][]byte{stateproof.AccountKey(carol.Address())}}),
			decoded(func(r *stateproof.Reply) bool {
				var a chain.Account
				return r.VerifyEntries([][]byte{stateproof.AccountKey(carol.Address())}) == nil && r.Entries[0].Present &&
					rlp.DecodeBytes(r.Entries[0].Value, &a) == nil && a.Balance == carolBalance && len(r.Cert) == 0
			}), badQuery, stateproof.MaxRequestSize + 1,
			fmt.Sprintf("bad request payload: stateproof: request of %d bytes, at most %d", stateproof.MaxRequestSize+1, stateproof.MaxRequestSize)},
		{node.MethodValidators, rlpBytes(t, included), remote("not_found"), badQuery, node.MaxQuerySize + 1, tooBigQuery},
		// A subscription's genuine answer is the signed acknowledgement, with no payload.
		{node.MethodEvents, rlpBytes(t, &node.EventsRequest{FromHeight: 1}), func(t *testing.T, reply []byte, err error) {
			t.Helper()
			if err != nil || len(reply) != 0 {
				t.Fatalf("genuine subscription: %q, %v; want the acknowledgement", reply, err)
			}
		}, badQuery, node.MaxQuerySize + 1, tooBigQuery},
	}
}

// call sends payload on an honest envelope: a call, or for the event subscription a
// subscription whose first message carries the handler's verdict.
func call(ctx context.Context, c *quicrpc.Client, method string, payload []byte) error {
	if method != node.MethodEvents {
		_, err := c.Call(ctx, method, payload)
		return err
	}
	sub, err := c.Subscribe(ctx, method, payload)
	if err != nil {
		return err
	}
	defer sub.Close()
	_, err = sub.Next()
	return err
}

// TestNodeEndpointsRejectAttacks sends every endpoint of a real node each attack on the
// envelope (replay, another chain, another context, a signature by another key than the one
// claimed, a payload changed after signing, an envelope moved to another connection, a message
// over the transport's limit, a truncated envelope, garbage bytes) and on the payload (garbage,
// over the endpoint's limit). Each is refused with its error, whose text names the problem; after
// each the node still serves a legitimate client and produces blocks.
func TestNodeEndpointsRejectAttacks(t *testing.T) {
	tg := startTarget(t)
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	type attack struct {
		name string
		send func(t *testing.T, ep endpoint) error
		want error
		text string // what the error says
	}
	forge := func(t *testing.T, ep endpoint, e quicrpc.Envelope) []byte {
		if e.ChainID == 0 {
			e.ChainID = nodeChainID
		}
		if e.Payload == nil {
			e.Payload = ep.payload
		}
		e.Method = ep.method
		return quicrpc.Forge(t, tg.attacker, e)
	}
	send := func(t *testing.T, frame []byte) error {
		_, err := quicrpc.CallFrame(ctxT(t), tg.attacker, frame)
		return err
	}
	attacks := []attack{
		{"replayed envelope", func(t *testing.T, ep endpoint) error {
			frame := forge(t, ep, quicrpc.Envelope{})
			reply, err := quicrpc.CallFrame(ctxT(t), tg.attacker, frame)
			ep.answer(t, reply, err)
			return send(t, frame)
		}, quicrpc.ErrReplay, "replayed request (nonce already used)"},
		{"another chain ID", func(t *testing.T, ep endpoint) error {
			return send(t, forge(t, ep, quicrpc.Envelope{ChainID: nodeChainID + 1}))
		}, quicrpc.ErrWrongChain, "envelope for another chain"},
		{"another context", func(t *testing.T, ep endpoint) error {
			return send(t, forge(t, ep, quicrpc.Envelope{Context: pqkey.ContextResponse}))
		}, quicrpc.ErrBadSignature, "signature does not verify"},
		{"signed by mallory, claiming dave's key", func(t *testing.T, ep endpoint) error {
			return send(t, forge(t, ep, quicrpc.Envelope{Signer: mallory, Sender: dave.Public().Bytes()}))
		}, quicrpc.ErrBadSignature, "signature does not verify"},
		{"payload changed after signing", func(t *testing.T, ep endpoint) error {
			signed := forge(t, ep, quicrpc.Envelope{Payload: []byte("original")})
			return send(t, bytes.Replace(signed, []byte("original"), []byte("replaced"), 1))
		}, quicrpc.ErrBadSignature, "signature does not verify"},
		{"captured on another connection", func(t *testing.T, ep endpoint) error {
			captured := quicrpc.Forge(t, tg.other, quicrpc.Envelope{ChainID: nodeChainID, Method: ep.method, Payload: ep.payload})
			return send(t, captured)
		}, quicrpc.ErrBindingMismatch, "envelope bound to another connection"},
		{"oversized message", func(t *testing.T, ep endpoint) error {
			return send(t, forge(t, ep, quicrpc.Envelope{Payload: make([]byte, quicrpc.DefaultMaxMessageSize)}))
		}, quicrpc.ErrTooLarge, "message too large"},
		{"truncated envelope", func(t *testing.T, ep endpoint) error {
			frame := forge(t, ep, quicrpc.Envelope{})
			return send(t, frame[:len(frame)-1])
		}, quicrpc.ErrMalformed, "malformed message"},
		{"garbage bytes", func(t *testing.T, ep endpoint) error {
			return quicrpc.SendRaw(ctxT(t), tg.attacker, append(binary.BigEndian.AppendUint32(nil, uint32(len(garbage))), garbage...))
		}, quicrpc.ErrMalformed, "malformed message"},
	}
	for _, ep := range tg.endpoints(t) {
		cases := slices.Concat(attacks, []attack{
			{"garbage payload", func(t *testing.T, ep endpoint) error {
				return call(ctxT(t), tg.attacker, ep.method, []byte{0xff, 0x01, 0x02})
			}, quicrpc.ErrRemote, ep.bad},
			{"payload over the endpoint's limit", func(t *testing.T, ep endpoint) error {
				return call(ctxT(t), tg.attacker, ep.method, make([]byte, ep.tooBig))
			}, quicrpc.ErrRemote, ep.tooBigText},
		})
		for _, a := range cases {
			t.Run(ep.method+"/"+a.name, func(t *testing.T) {
				err := a.send(t, ep)
				if !errors.Is(err, a.want) || !strings.Contains(err.Error(), a.text) {
					t.Fatalf("got %v, want %v saying %q", err, a.want, a.text)
				}
				tg.stillServes(t)
			})
		}
	}
	// The transfer went through once: at its first use in the replay case, never again.
	tg.waitFor(t, "the transfer", func() bool {
		acct, err := tg.legit.Account(ctxT(t), bob.Address())
		if err != nil {
			t.Fatal(err)
		}
		if acct.Balance > 10 {
			t.Fatalf("bob has %d: a rejected submission was executed", acct.Balance)
		}
		return acct.Balance == 10
	})
}

// TestNodeRefusesClassicalTLS: a client offering only classical key exchange (X25519, or P-256
// and X25519) is refused at the node's handshake, which names the reason, and the node goes on
// serving and producing blocks.
func TestNodeRefusesClassicalTLS(t *testing.T) {
	tg := startTarget(t)
	for _, curves := range [][]tls.CurveID{{tls.X25519}, {tls.CurveP256, tls.X25519}} {
		err := quicrpc.HandshakeError(quicrpc.DialClassical(ctxT(t), tg.addr, curves))
		if !errors.Is(err, quicrpc.ErrNotPostQuantum) || !strings.Contains(err.Error(), "key exchange is not X25519MLKEM768") {
			t.Fatalf("handshake offering %v: %v, want ErrNotPostQuantum", curves, err)
		}
		tg.stillServes(t)
	}
}
