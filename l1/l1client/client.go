// Package l1client is the Go client of the L1 node's QUIC API (l1/node.Register): typed calls
// over one authenticated quicrpc connection, for sequencers, challengers, wallets and tests. Every
// reply it returns has been verified as signed by the pinned validator key over this connection.
package l1client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// DefaultMaxMessageSize bounds a reply: the largest is a full block (node.DefaultMaxBlockBytes)
// plus its envelope, above quicrpc's default which is sized for requests.
const DefaultMaxMessageSize = node.DefaultMaxBlockBytes + 1<<20

// Config configures a Client.
type Config struct {
	Addr      string           // the node's UDP host:port
	ChainID   uint64           // the L1 chain ID
	Validator *pqkey.PublicKey // the validator key the replies must be signed with
	// Key signs the requests (it is the caller's transport identity, not an account: transactions
	// carry their own signatures); nil: a fresh key.
	Key            *pqkey.PrivateKey
	MaxMessageSize int // 0: DefaultMaxMessageSize
}

// Client is a connection to an L1 node; it is safe for concurrent use.
type Client struct {
	rpc     *quicrpc.Client
	chainID uint64
}

// Dial connects to the node and checks that it holds the validator key.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Key == nil {
		k, err := pqkey.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		cfg.Key = k
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	rpc, err := quicrpc.Dial(ctx, cfg.Addr, quicrpc.ClientConfig{Key: cfg.Key, ChainID: cfg.ChainID,
		ValidatorPublicKey: cfg.Validator, MaxMessageSize: cfg.MaxMessageSize})
	if err != nil {
		return nil, err
	}
	return &Client{rpc: rpc, chainID: cfg.ChainID}, nil
}

// Close closes the connection; calls and subscriptions in flight fail.
func (c *Client) Close() error { return c.rpc.Close() }

// ChainID is the L1 chain ID the connection is bound to.
func (c *Client) ChainID() uint64 { return c.chainID }

// RemoteError is an error the node returned in a signed reply. errors.Is matches
// quicrpc.ErrRemote and, when the node named it, the sentinel of the node or chain package
// (chain.ErrNotFound, chain.ErrBadSignature, node.ErrMempoolFull, node.ErrBadRequest, ...).
type RemoteError struct {
	Method  string
	Code    string // the node's error code ("internal" when it has none)
	Message string
	err     error // the sentinel, nil for an unknown code
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("l1client: %s: %s", e.Method, e.Message)
}

func (e *RemoteError) Unwrap() []error {
	if e.err == nil {
		return []error{quicrpc.ErrRemote}
	}
	return []error{e.err, quicrpc.ErrRemote}
}

// call sends a request with an RLP argument (nil: empty payload) and decodes the reply into out.
func (c *Client) call(ctx context.Context, method string, arg any, out any) error {
	var payload []byte
	if arg != nil {
		b, err := rlp.EncodeToBytes(arg)
		if err != nil {
			return fmt.Errorf("l1client: %s: encoding: %w", method, err)
		}
		payload = b
	}
	return c.callRaw(ctx, method, payload, out)
}

func (c *Client) callRaw(ctx context.Context, method string, payload []byte, out any) error {
	reply, err := c.rpc.Call(ctx, method, payload)
	if err != nil {
		return remoteError(method, err)
	}
	if out == nil {
		return nil
	}
	return decodeReply(method, reply, out)
}

// decodeReply decodes a verified reply payload into out. The payload is signed by the
// validator, but a client must not crash on what a buggy or compromised validator signs.
func decodeReply(method string, reply []byte, out any) error {
	if err := rlp.DecodeBytes(reply, out); err != nil {
		return fmt.Errorf("l1client: %s: reply: %w: %v", method, quicrpc.ErrMalformed, err)
	}
	return nil
}

// remoteError turns a handler's error into a RemoteError; transport errors pass through wrapped.
func remoteError(method string, err error) error {
	if !errors.Is(err, quicrpc.ErrRemote) {
		return fmt.Errorf("l1client: %s: %w", method, err)
	}
	// quicrpc formats it as "<ErrRemote>: <handler message>".
	msg := err.Error()
	if p := quicrpc.ErrRemote.Error() + ": "; len(msg) >= len(p) && msg[:len(p)] == p {
		msg = msg[len(p):]
	}
	code, text := node.SplitAPIError(msg)
	return &RemoteError{Method: method, Code: code, Message: text, err: node.APIError(code)}
}

// SubmitTx sends a signed raw transaction (chain.SignTx) and returns its hash once the node has
// acknowledged it: it is in the node's durable mempool log and survives a crash. Its outcome is
// in the receipts of the block that includes it. node.ErrKnownTx comes with the hash: the
// transaction was acknowledged before.
func (c *Client) SubmitTx(ctx context.Context, raw []byte) (common.Hash, error) {
	want := crypto.Keccak256Hash(raw)
	var h common.Hash
	if err := c.callRaw(ctx, node.MethodSubmitTx, raw, &h); err != nil {
		if errors.Is(err, node.ErrKnownTx) {
			return want, err
		}
		return common.Hash{}, err
	}
	if h != want {
		return common.Hash{}, fmt.Errorf("l1client: %s: node acknowledged %s, sent %s", node.MethodSubmitTx, h, want)
	}
	return h, nil
}

// Account returns an L1 account (the zero account if it never received anything).
func (c *Client) Account(ctx context.Context, a common.Address) (chain.Account, error) {
	var acct chain.Account
	return acct, c.call(ctx, node.MethodAccount, a, &acct)
}

// Rollup returns a registered rollup.
func (c *Client) Rollup(ctx context.Context, id uint64) (*chain.Rollup, error) {
	var r chain.Rollup
	if err := c.call(ctx, node.MethodRollup, id, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Batch returns an accepted (pending or finalized) batch.
func (c *Client) Batch(ctx context.Context, rollupID, number uint64) (*chain.BatchRecord, error) {
	var b chain.BatchRecord
	if err := c.call(ctx, node.MethodBatch, node.RollupRef{RollupID: rollupID, Number: number}, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// BatchData returns the zstd frame of a batch's data as submitted (chain.DecompressBatch).
func (c *Client) BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error) {
	var b []byte
	return b, c.call(ctx, node.MethodBatchData, node.RollupRef{RollupID: rollupID, Number: number}, &b)
}

// BatchTrace returns the trace of a pending optimistic batch.
func (c *Client) BatchTrace(ctx context.Context, rollupID, number uint64) ([][32]byte, error) {
	var t [][32]byte
	return t, c.call(ctx, node.MethodBatchTrace, node.RollupRef{RollupID: rollupID, Number: number}, &t)
}

// Deposit returns entry index of a rollup's deposit queue.
func (c *Client) Deposit(ctx context.Context, rollupID, index uint64) (*chain.DepositEntry, error) {
	var d chain.DepositEntry
	if err := c.call(ctx, node.MethodDeposit, node.RollupRef{RollupID: rollupID, Number: index}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Exited reports whether L2 account index of a rollup has been paid by an exodus withdrawal.
func (c *Client) Exited(ctx context.Context, rollupID uint64, index uint32) (bool, error) {
	var exited bool
	return exited, c.call(ctx, node.MethodExited, node.AccountRef{RollupID: rollupID, Index: index}, &exited)
}

// Refunded reports whether entry index of a rollup's deposit queue has been paid back to its
// depositor by an exodus refund.
func (c *Client) Refunded(ctx context.Context, rollupID, index uint64) (bool, error) {
	var refunded bool
	return refunded, c.call(ctx, node.MethodRefunded, node.RollupRef{RollupID: rollupID, Number: index}, &refunded)
}

// Claimed reports whether entry index of batch number's withdrawal list has been claimed.
func (c *Client) Claimed(ctx context.Context, rollupID, number, index uint64) (bool, error) {
	var claimed bool
	return claimed, c.call(ctx, node.MethodClaimed, node.WithdrawalRef{RollupID: rollupID, Batch: number, Index: index}, &claimed)
}

// Status returns the node's head and mempool size.
func (c *Client) Status(ctx context.Context) (node.Status, error) {
	var s node.StatusReply
	if err := c.call(ctx, node.MethodStatus, nil, &s); err != nil {
		return node.Status{}, err
	}
	return node.Status{ChainID: s.ChainID, Height: s.Height, BlockHash: s.BlockHash, StateRoot: s.StateRoot,
		Timestamp: s.Timestamp, MempoolTxs: int(s.MempoolTxs), RollupCount: s.RollupCount, Halted: s.Halted}, nil
}

// Block returns the sealed block at height (0 is the unsigned genesis header).
func (c *Client) Block(ctx context.Context, height uint64) (*chain.SealedBlock, error) {
	var b chain.SealedBlock
	if err := c.call(ctx, node.MethodBlock, height, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Receipts returns the receipts of the block at height.
func (c *Client) Receipts(ctx context.Context, height uint64) ([]chain.Receipt, error) {
	var r []chain.Receipt
	return r, c.call(ctx, node.MethodReceipts, height, &r)
}

// Events is a subscription to the node's event log.
type Events struct {
	sub     *quicrpc.Subscription
	pending []chain.Event
}

// Events subscribes to the event log from the first event of fromHeight: the stored events, then
// each block's as it commits. Every block's events end with its chain.EventBlock, so a consumer
// that has handled the block event of height h resumes, after a reconnect, from h+1. ctx bounds
// the subscription.
func (c *Client) Events(ctx context.Context, fromHeight uint64) (*Events, error) {
	b, err := rlp.EncodeToBytes(&node.EventsRequest{FromHeight: fromHeight})
	if err != nil {
		return nil, err
	}
	sub, err := c.rpc.Subscribe(ctx, node.MethodEvents, b)
	if err != nil {
		return nil, remoteError(node.MethodEvents, err)
	}
	return &Events{sub: sub}, nil
}

// Next returns the next event. It returns io.EOF when the node ended the subscription,
// quicrpc.ErrClosed after Close and ctx's error when ctx ended.
func (e *Events) Next() (chain.Event, error) {
	for len(e.pending) == 0 {
		b, err := e.sub.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return chain.Event{}, io.EOF
			}
			return chain.Event{}, remoteError(node.MethodEvents, err)
		}
		evs, err := decodeEvents(b)
		if err != nil {
			e.sub.Close()
			return chain.Event{}, err
		}
		e.pending = evs
	}
	ev := e.pending[0]
	e.pending = e.pending[1:]
	return ev, nil
}

// Close ends the subscription.
func (e *Events) Close() { e.sub.Close() }

// decodeEvents decodes one message of an event subscription: the events of one or more blocks.
func decodeEvents(b []byte) ([]chain.Event, error) {
	var evs []chain.Event
	if err := rlp.DecodeBytes(b, &evs); err != nil {
		return nil, fmt.Errorf("l1client: %s: event message: %w: %v", node.MethodEvents, quicrpc.ErrMalformed, err)
	}
	return evs, nil
}
