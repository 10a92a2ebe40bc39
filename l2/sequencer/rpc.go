package sequencer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/internal/rpcguard"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

// API is the rollup_ JSON-RPC namespace (go-ethereum rpc: method Foo is rollup_foo).
type API struct{ s *Sequencer }

// NewAPI returns the rollup_ namespace of s, for embedding in another rpc.Server.
func NewAPI(s *Sequencer) *API { return &API{s: s} }

// rpcServer is the JSON-RPC server of Config.ListenAddr, within Config.RPC's limits.
type rpcServer struct {
	guard *rpcguard.Server
	addr  net.Addr
}

func (s *Sequencer) serve() error {
	srv := &s.srv
	g, err := rpcguard.New(s.cfg.RPC, s.log.With("component", "rpc"))
	if err != nil {
		return fmt.Errorf("sequencer: JSON-RPC: %w", err)
	}
	if err := g.Register("rollup", NewAPI(s)); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("sequencer: listen: %w", err)
	}
	srv.guard, srv.addr = g, ln.Addr()
	go func() {
		if err := g.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("JSON-RPC server stopped", "err", err, "addr", srv.addr.String())
		}
	}()
	return nil
}

// RegisterAPI adds an admin JSON-RPC namespace to the running server (go-ethereum rpc: method
// Foo of service is namespace_foo), served only to requests bearing Config.RPC.AdminToken when
// one is set, for services built after the sequencer starts, such as the devnet controls of
// cmd/pqsequencer, which act on a settlement engine that reads the sequencer's blocks. It needs
// Start with a ListenAddr.
func (s *Sequencer) RegisterAPI(namespace string, service any) error {
	if s.srv.guard == nil {
		return errors.New("sequencer: no JSON-RPC server (not started, or no ListenAddr)")
	}
	return s.srv.guard.RegisterAdmin(namespace, service)
}

// RPCStats are the JSON-RPC server's connections open now and its refusals since start by reason
// (rpcguard.Server.Refusals); zero without a ListenAddr.
func (s *Sequencer) RPCStats() (conns int, refusals map[string]uint64) {
	if s.srv.guard == nil {
		return 0, nil
	}
	return s.srv.guard.Conns(), s.srv.guard.Refusals()
}

// SendTransaction is rollup_sendTransaction: the hex of a 160-byte canonical transfer or
// withdraw, or of an ML-DSA one (types 5, 6) followed by its 3,309-byte signature. It returns
// the transaction hash (of the record) once the transaction is in the synced log.
func (a *API) SendTransaction(ctx context.Context, raw hexutil.Bytes) (common.Hash, error) {
	h, err := a.s.SendTransaction(ctx, raw)
	return common.Hash(h), err
}

// RPCAccount is an API result type, declared in l2/rollupapi so clients need not link the core.
type RPCAccount = rollupapi.Account

// GetAccount is rollup_getAccount(index, withProof).
func (a *API) GetAccount(index uint32, withProof *bool) (*RPCAccount, error) {
	s := a.s
	if uint64(index) >= uint64(1)<<s.cfg.Depth {
		return nil, newError(CodeNotFound, "index_out_of_range", "index %d outside a tree of depth %d", index, s.cfg.Depth)
	}
	s.chain.mu.RLock()
	defer s.chain.mu.RUnlock()
	acc, ok, err := s.chain.exec.Account(index)
	if err != nil {
		return nil, err
	}
	root, err := s.chain.exec.Root()
	if err != nil {
		return nil, err
	}
	out := &RPCAccount{Index: index, Exists: ok, Root: root, Block: hexutil.Uint64(s.Head().Number)}
	if ok {
		out.PubKeyX, out.PubKeyY = acc.PubKey.X.Bytes(), acc.PubKey.Y.Bytes()
		out.Balance, out.Nonce = hexutil.Uint64(acc.Balance), hexutil.Uint64(acc.Nonce)
	}
	if withProof != nil && *withProof {
		sib, err := s.chain.exec.Witness(index)
		if err != nil {
			return nil, err
		}
		for _, w := range sib {
			out.Proof = append(out.Proof, w)
		}
	}
	return out, nil
}

// RPCReceipt is an API result type, declared in l2/rollupapi so clients need not link the core.
type RPCReceipt = rollupapi.Receipt

// GetReceipt is rollup_getReceipt(txHash); null for an unknown hash.
func (a *API) GetReceipt(hash common.Hash) (*RPCReceipt, error) {
	r, err := a.s.db.receipt(hash)
	if err != nil {
		return nil, err
	}
	if r == nil {
		if !a.s.txs.pending(hash) {
			return nil, nil
		}
		return &RPCReceipt{TxHash: hash, Status: "pending"}, nil
	}
	if r.Included && r.Block > a.s.Head().Number {
		// Stored with its block a moment before the head moves: not announced yet.
		return &RPCReceipt{TxHash: hash, Status: "pending"}, nil
	}
	out := &RPCReceipt{TxHash: hash, Status: r.Status, Included: r.Included}
	b := hexutil.Uint64(r.Block)
	out.Block = &b
	if r.Included {
		p := hexutil.Uint64(r.Position)
		out.Position = &p
	}
	return out, nil
}

// RPCBlock is an API result type, declared in l2/rollupapi so clients need not link the core.
type RPCBlock = rollupapi.Block

func rpcBlock(h *Header, hashes [][32]byte, b *Block) *RPCBlock {
	rb := &RPCBlock{Number: hexutil.Uint64(h.Number), Hash: h.Hash(), ParentHash: h.ParentHash, PrevRoot: h.PrevRoot,
		PostRoot: h.PostRoot, TraceRoot: h.TraceRoot, WithdrawalRoot: h.WithdrawalRoot,
		DepositStart: hexutil.Uint64(h.DepositStart), DepositEnd: hexutil.Uint64(h.DepositEnd),
		TxCount: hexutil.Uint64(h.TxCount), Timestamp: hexutil.Uint64(h.Time), TxsHash: h.TxsHash}
	rb.TxHashes = make([]common.Hash, 0, h.TxCount)
	for _, x := range hashes {
		rb.TxHashes = append(rb.TxHashes, x)
	}
	if b == nil {
		return rb
	}
	for k := 0; (k+1)*l2.TxSize <= len(b.Data); k++ {
		rec := b.Data[k*l2.TxSize : (k+1)*l2.TxSize]
		if hashes == nil {
			rb.TxHashes = append(rb.TxHashes, TxHash(rec))
		}
		// As rollup_sendTransaction takes it: the record, and its signature for a type 5/6.
		rb.Transactions = append(rb.Transactions, append(rec[:len(rec):len(rec)], b.Sig(k)...))
	}
	return rb
}

// GetBlock is rollup_getBlock(number, fullTransactions); null if there is no such block.
func (a *API) GetBlock(number hexutil.Uint64, full *bool) (*RPCBlock, error) {
	b, err := a.s.db.block(uint64(number))
	if err != nil || b == nil {
		return nil, err
	}
	rb := rpcBlock(&b.Header, nil, b)
	if full == nil || !*full {
		rb.Transactions = nil
	}
	return rb, nil
}

// RPCStatus is an API result type, declared in l2/rollupapi so clients need not link the core.
type RPCStatus = rollupapi.Status

// GetStatus is rollup_getStatus(blockNumber?): the head and the settlement status of a block.
func (a *API) GetStatus(number *hexutil.Uint64) (*RPCStatus, error) {
	h := a.s.Head()
	pending := a.s.txs.len()
	st := &RPCStatus{Head: hexutil.Uint64(h.Number), HeadHash: h.Hash(), Root: a.s.currentRoot(), DepositCursor: hexutil.Uint64(h.DepositEnd),
		Pending: pending, Block: hexutil.Uint64(h.Number)}
	if number != nil {
		if uint64(*number) > h.Number || *number == 0 {
			return nil, newError(CodeNotFound, "unknown_block", "block %d: head is %d", *number, h.Number)
		}
		st.Block = *number
	}
	bs := a.s.blockSettlement(uint64(st.Block))
	st.Settlement = bs.Status
	if bs.FirstBatch != 0 {
		first, last := hexutil.Uint64(bs.FirstBatch), hexutil.Uint64(bs.LastBatch)
		st.Batch, st.LastBatch = &first, &last
	}
	return st, nil
}

// currentRoot is the root of the latest durable block, for any goroutine.
func (s *Sequencer) currentRoot() [32]byte {
	h := s.Head()
	if h.Number == 0 {
		return s.chain.genesisRoot
	}
	return h.PostRoot
}

// NewBlocks is the rollup_subscribe("newBlocks") subscription: every durable block, with its
// transaction hashes.
func (a *API) NewBlocks(ctx context.Context) (*rpc.Subscription, error) {
	n, ok := rpc.NotifierFromContext(ctx)
	if !ok {
		return nil, rpc.ErrNotificationsUnsupported
	}
	sub := n.CreateSubscription()
	ch, cancel := a.s.Subscribe()
	go func() {
		defer cancel()
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return
				}
				if err := n.Notify(sub.ID, rpcBlock(&ev.Header, ev.TxHashes, nil)); err != nil {
					return
				}
			case <-sub.Err():
				return
			}
		}
	}()
	return sub, nil
}

// DevDeposit is rollup_devDeposit(pubkey, amount), dev sequencers only: it appends a deposit of
// amount to the key pubkey to the dev deposit queue and returns its queue index. pubkey is an
// EdDSA key (64 bytes: x then y), which must be a valid non-identity point of the prime-order
// subgroup as L1 requires, or an ML-DSA-65 public key (1,952 bytes) for an ML-DSA account.
func (a *API) DevDeposit(pubkey hexutil.Bytes, amount hexutil.Uint64) (hexutil.Uint64, error) {
	var i uint64
	var err error
	switch len(pubkey) {
	case l2.MLDSAPubSize:
		if _, perr := pqkey.ParsePublicKey(pubkey); perr != nil {
			return 0, newError(CodeMalformed, "bad_pubkey", "not an ML-DSA-65 public key: %v", perr)
		}
		i, err = a.s.DevDepositMLDSA(pubkey, uint64(amount))
	case 64:
		var pk l2.PublicKey
		if pk.X.SetBytesCanonical(pubkey[:32]) != nil || pk.Y.SetBytesCanonical(pubkey[32:]) != nil {
			return 0, newError(CodeNonCanonical, "non_canonical", "public key coordinate >= p")
		}
		p := twistededwards.NewPointAffine(pk.X, pk.Y)
		if !p.IsOnCurve() || !p.IsInSubGroup() || p.IsZero() {
			return 0, newError(CodeMalformed, "bad_pubkey", "not a non-identity point of the prime-order subgroup")
		}
		i, err = a.s.DevDeposit(pk, uint64(amount))
	default:
		return 0, newError(CodeMalformed, "malformed", "public key of %d bytes, want 64 (EdDSA: x then y) or %d (ML-DSA-65)", len(pubkey), l2.MLDSAPubSize)
	}
	var e *Error
	if err != nil && !errors.As(err, &e) {
		return 0, newError(CodeDurability, "durability", "%v", err)
	}
	return hexutil.Uint64(i), err
}
