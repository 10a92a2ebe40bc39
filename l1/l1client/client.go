// Package l1client is the Go client of the L1 node's QUIC API (l1/node.Register): typed calls
// over one authenticated quicrpc connection at a time, for sequencers, challengers, wallets and
// tests. Every reply it returns has been verified as signed, over the connection it came on, by
// the pinned validator key or by a member of the pinned validator set; CertifiedHead verifies
// quorum certificates against the set (certified.go). The client redials with backoff when the
// connection goes, moving through a list of endpoints (also away from one whose head stalls,
// stall.go), and its event streams resume across reconnects: a restart or loss of one L1 node
// never needs a restart of its users.
package l1client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// DefaultMaxMessageSize bounds a reply: the largest is a full block (l1api.DefaultMaxBlockBytes)
// plus its envelope, above quicrpc's default which is sized for requests.
const DefaultMaxMessageSize = l1api.DefaultMaxBlockBytes + 1<<20

// Config configures a Client.
type Config struct {
	// Addrs are the UDP host:port of the nodes to use, in order of preference: the client talks
	// to one at a time and moves to the next when a dial fails. Addr is a one-endpoint Addrs.
	Addrs     []string
	Addr      string
	ChainID   uint64           // the L1 chain ID
	Validator *pqkey.PublicKey // the validator key the replies must be signed with (one-node chain)
	// Validators pins a validator set instead of one key (give one of the two): a reply is
	// accepted when signed by any member's ML-DSA key (Validator says which member answers),
	// and CertifiedHead and the verified reads check quorum certificates against the set.
	Validators *qc.ValidatorSet
	// StallTimeout: the connected node is left for the next endpoint when its head has not
	// advanced for this long (stall.go). 0: DefaultStallTimeout when Validators is set and
	// there is more than one endpoint, else off (a one-node chain makes blocks only when it has
	// transactions); negative: off.
	StallTimeout time.Duration
	// Key signs the requests (it is the caller's transport identity, not an account: transactions
	// carry their own signatures); nil: a fresh key.
	Key            *pqkey.PrivateKey
	MaxMessageSize int           // 0: DefaultMaxMessageSize
	IdleTimeout    time.Duration // 0: DefaultIdleTimeout
	MinBackoff     time.Duration // 0: DefaultMinBackoff
	MaxBackoff     time.Duration // 0: DefaultMaxBackoff
	Logger         *slog.Logger  // redials and losses of the connection; nil: discard
}

// Client is the connection to the L1 nodes of Config.Addrs; it is safe for concurrent use. It
// redials in the background whenever the connection goes (see conn.go): calls made meanwhile
// fail at once with ErrDisconnected, and event streams (Events) resume where they stopped.
type Client struct {
	cfg      Config
	rpcCfg   quicrpc.ClientConfig
	chainID  uint64
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}  // closed when the redial loop has returned
	watchers sync.WaitGroup // the stall watcher

	mu      sync.Mutex
	rpc     *quicrpc.Client // nil while disconnected
	idx     int             // endpoint of rpc, or dialled next
	lastErr error           // why the client is disconnected
	errAddr string          // the endpoint lastErr is about
	up      chan struct{}   // closed when rpc is set
	dialled bool            // a connection was made once: the next ones are reconnects
	closed  bool

	reconnects atomic.Uint64
	sets       trustedSets // the validator sets proven so far (follow.go)
}

// New returns a client that dials the nodes in the background from now until Close, and
// redials whenever the connection goes; it fails only on a bad configuration.
func New(cfg Config) (*Client, error) {
	if cfg.Addr != "" {
		cfg.Addrs = append([]string{cfg.Addr}, cfg.Addrs...)
	}
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("l1client: no L1 node address")
	}
	if (cfg.Validator == nil) == (cfg.Validators == nil) {
		return nil, errors.New("l1client: give one validator key or one validator set to pin the nodes' replies to")
	}
	var members []*pqkey.PublicKey
	if cfg.Validators != nil {
		for _, v := range cfg.Validators.Validators() {
			members = append(members, v.Key)
		}
	}
	if cfg.StallTimeout == 0 && cfg.Validators != nil && len(cfg.Addrs) > 1 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Key == nil {
		k, err := pqkey.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		cfg.Key = k
	}
	setDefault(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.MinBackoff, DefaultMinBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{cfg: cfg, chainID: cfg.ChainID, log: cfg.Logger, cancel: cancel, done: make(chan struct{}),
		lastErr: errNotDialled, errAddr: cfg.Addrs[0], up: make(chan struct{}),
		rpcCfg: quicrpc.ClientConfig{Key: cfg.Key, ChainID: cfg.ChainID, ValidatorPublicKey: cfg.Validator,
			ValidatorSet: members, MaxMessageSize: cfg.MaxMessageSize, IdleTimeout: cfg.IdleTimeout}}
	if cfg.Validators != nil {
		c.sets.list = []trustedSet{{from: 1, set: cfg.Validators}}
	}
	go c.redial(ctx)
	if cfg.StallTimeout > 0 {
		c.watchers.Add(1)
		go c.watchStall(ctx)
	}
	return c, nil
}

// Dial returns a connected client: New, then WaitConnected(ctx). The client keeps redialling
// after a loss of the connection, like New's.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.WaitConnected(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Close stops redialling and closes the connection; calls and event streams in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	rpc := c.rpc
	if rpc == nil {
		close(c.up) // wakes the waiters, who find the client closed
	}
	c.rpc = nil
	c.lastErr = quicrpc.ErrClosed
	c.mu.Unlock()
	c.cancel()
	<-c.done
	c.watchers.Wait()
	if rpc != nil {
		return rpc.Close()
	}
	return nil
}

// ChainID is the L1 chain ID the connection is bound to.
func (c *Client) ChainID() uint64 { return c.chainID }

// RemoteError is an error the node returned in a signed reply. errors.Is matches
// quicrpc.ErrRemote and, when the node named it, the sentinel of the node or chain package
// (l1api.ErrNotFound, l1api.ErrBadSignature, l1api.ErrMempoolFull, l1api.ErrBadRequest, ...).
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
	rpc, err := c.conn()
	if err != nil {
		return fmt.Errorf("l1client: %s: %w", method, err)
	}
	reply, err := rpc.Call(ctx, method, payload)
	if err != nil {
		return remoteError(method, c.failed(rpc, err))
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
	code, text := l1api.SplitAPIError(msg)
	return &RemoteError{Method: method, Code: code, Message: text, err: l1api.APIError(code)}
}

// Account returns an L1 account (the zero account if it never received anything).
func (c *Client) Account(ctx context.Context, a common.Address) (l1api.Account, error) {
	var acct l1api.Account
	return acct, c.call(ctx, l1api.MethodAccount, a, &acct)
}

// Rollup returns a registered rollup.
func (c *Client) Rollup(ctx context.Context, id uint64) (*l1api.Rollup, error) {
	var r l1api.Rollup
	if err := c.call(ctx, l1api.MethodRollup, id, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Batch returns an accepted (pending or finalized) batch.
func (c *Client) Batch(ctx context.Context, rollupID, number uint64) (*l1api.BatchRecord, error) {
	var b l1api.BatchRecord
	if err := c.call(ctx, l1api.MethodBatch, l1api.RollupRef{RollupID: rollupID, Number: number}, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// BatchData returns the zstd frame of a batch's data as submitted (l1api.DecompressBatch).
func (c *Client) BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error) {
	var b []byte
	return b, c.call(ctx, l1api.MethodBatchData, l1api.RollupRef{RollupID: rollupID, Number: number}, &b)
}

// BatchTrace returns the trace of a pending optimistic batch.
func (c *Client) BatchTrace(ctx context.Context, rollupID, number uint64) ([][32]byte, error) {
	var t [][32]byte
	return t, c.call(ctx, l1api.MethodBatchTrace, l1api.RollupRef{RollupID: rollupID, Number: number}, &t)
}

// Deposit returns entry index of a rollup's deposit queue.
func (c *Client) Deposit(ctx context.Context, rollupID, index uint64) (*l1api.DepositEntry, error) {
	var d l1api.DepositEntry
	if err := c.call(ctx, l1api.MethodDeposit, l1api.RollupRef{RollupID: rollupID, Number: index}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Exited reports whether L2 account index of a rollup has been paid by an exodus withdrawal.
func (c *Client) Exited(ctx context.Context, rollupID uint64, index uint32) (bool, error) {
	var exited bool
	return exited, c.call(ctx, l1api.MethodExited, l1api.AccountRef{RollupID: rollupID, Index: index}, &exited)
}

// Refunded reports whether entry index of a rollup's deposit queue has been paid back to its
// depositor by an exodus refund.
func (c *Client) Refunded(ctx context.Context, rollupID, index uint64) (bool, error) {
	var refunded bool
	return refunded, c.call(ctx, l1api.MethodRefunded, l1api.RollupRef{RollupID: rollupID, Number: index}, &refunded)
}

// Claimed reports whether entry index of batch number's withdrawal list has been paid (a claim
// held in the governor's delay queue is not, until released: see Withdrawal).
func (c *Client) Claimed(ctx context.Context, rollupID, number, index uint64) (bool, error) {
	var claimed bool
	return claimed, c.call(ctx, l1api.MethodClaimed, l1api.WithdrawalRef{RollupID: rollupID, Batch: number, Index: index}, &claimed)
}

// Status returns the node's head and mempool size.
func (c *Client) Status(ctx context.Context) (l1api.Status, error) {
	var s l1api.StatusReply
	if err := c.call(ctx, l1api.MethodStatus, nil, &s); err != nil {
		return l1api.Status{}, err
	}
	return l1api.Status{ChainID: s.ChainID, Height: s.Height, BlockHash: s.BlockHash, StateRoot: s.StateRoot,
		Timestamp: s.Timestamp, MempoolTxs: int(s.MempoolTxs), RollupCount: s.RollupCount, Halted: s.Halted,
		Fees: s.Fees}, nil
}

// Block returns the sealed block at height (0 is the unsigned genesis header).
func (c *Client) Block(ctx context.Context, height uint64) (*l1api.SealedBlock, error) {
	var b l1api.SealedBlock
	if err := c.call(ctx, l1api.MethodBlock, height, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Receipts returns the receipts of the block at height.
func (c *Client) Receipts(ctx context.Context, height uint64) ([]l1api.Receipt, error) {
	var r []l1api.Receipt
	return r, c.call(ctx, l1api.MethodReceipts, height, &r)
}

// Certificate returns the quorum certificate of a height from a validator under CometBFT
// (docs/l1.md §9), decoded and not yet verified: the caller checks it against the validator set
// it pinned (qc.Certificate.Verify) and the state root it trusts. l1api.ErrNotFound until the
// block two heights later has committed, and always from a single-validator node.
func (c *Client) Certificate(ctx context.Context, height uint64) (*qc.Certificate, error) {
	var b []byte
	if err := c.call(ctx, l1api.MethodCertificate, height, &b); err != nil {
		return nil, err
	}
	return qc.Decode(b)
}
