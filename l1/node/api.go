package node

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

const (
	MethodSubmitTx    = l1api.MethodSubmitTx
	MethodAccount     = l1api.MethodAccount
	MethodRollup      = l1api.MethodRollup
	MethodBatch       = l1api.MethodBatch
	MethodBatchData   = l1api.MethodBatchData
	MethodBatchTrace  = l1api.MethodBatchTrace
	MethodDeposit     = l1api.MethodDeposit
	MethodExited      = l1api.MethodExited
	MethodRefunded    = l1api.MethodRefunded
	MethodClaimed     = l1api.MethodClaimed
	MethodStatus      = l1api.MethodStatus
	MethodBlock       = l1api.MethodBlock
	MethodReceipts    = l1api.MethodReceipts
	MethodEvents      = l1api.MethodEvents
	MethodCertificate = l1api.MethodCertificate
	MethodProveState  = l1api.MethodProveState
	MethodValidators  = l1api.MethodValidators
)

const (
	MaxQuerySize     = l1api.MaxQuerySize
	EventsPerMessage = l1api.EventsPerMessage
)

var ErrBadRequest = l1api.ErrBadRequest

// APIErrorCode is l1api.APIErrorCode.
func APIErrorCode(err error) string { return l1api.APIErrorCode(err) }

// APIError is l1api.APIError.
func APIError(code string) error { return l1api.APIError(code) }

// SplitAPIError is l1api.SplitAPIError.
func SplitAPIError(msg string) (code, text string) { return l1api.SplitAPIError(msg) }

func apiError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", APIErrorCode(err), err)
}

type RollupRef = l1api.RollupRef

type AccountRef = l1api.AccountRef

type WithdrawalRef = l1api.WithdrawalRef

type StatusReply = l1api.StatusReply

type EventsRequest = l1api.EventsRequest

// Register mounts the node's endpoints on srv:
//
//	l1_submitTx    raw signed transaction      -> tx hash, after the synced mempool write
//	l1_account     address                     -> chain.Account
//	l1_rollup      rollup ID u64               -> chain.Rollup
//	l1_batch       RollupRef                   -> chain.BatchRecord
//	l1_batchData   RollupRef                   -> zstd frame of the batch data (bytes)
//	l1_batchTrace  RollupRef                   -> [][32]byte
//	l1_deposit     RollupRef (index)           -> chain.DepositEntry
//	l1_exited      AccountRef                  -> bool: the account was paid by an exodus
//	l1_refunded    RollupRef (index)           -> bool: the deposit was paid back by an exodus refund
//	l1_claimed     WithdrawalRef               -> bool: the withdrawal was paid (a claim held in the
//	                                              governor's delay queue is false until released)
//	l1_delayed     WithdrawalRef               -> chain.WithdrawalStatus (delayed.go)
//	l1_reserves    rollup ID u64               -> chain.Reserves (reserves.go)
//	l1_status      empty                       -> StatusReply
//	l1_block       height u64                  -> chain.SealedBlock
//	l1_receipts    height u64                  -> []chain.Receipt
//	l1_events      EventsRequest (stream)      -> []chain.Event per message, stored ones first,
//	                                              then each block's as it commits
//	l1_l2Key       L2KeyRef                    -> the ML-DSA-65 key a deposit registered for the
//	                                              hash (bytes; not_found if none did)
//	l1_certificate height u64                  -> the encoded l1/qc certificate of that height
//	                                              (CometBFT validators; not_found before height+2)
//	l1_proveState  stateproof.Request          -> stateproof.Reply: the keys' values at a height
//	                                              with their proofs and the height's certificate
//	l1_validators  height u64                  -> SignerSet: the set whose votes certify that height
//	                                              (not_found on a single-validator node)
func (n *Node) Register(srv *quicrpc.Server) {
	srv.Handle(MethodSubmitTx, n.handleSubmitTx)
	srv.Handle(MethodAccount, query(func(a common.Address) (any, error) { return n.Account(a) }))
	srv.Handle(MethodRollup, query(func(id uint64) (any, error) { return n.Rollup(id) }))
	srv.Handle(MethodBatch, query(func(r RollupRef) (any, error) { return n.Batch(r.RollupID, r.Number) }))
	srv.Handle(MethodBatchData, query(func(r RollupRef) (any, error) { return n.BatchData(r.RollupID, r.Number) }))
	srv.Handle(MethodBatchTrace, query(func(r RollupRef) (any, error) { return n.BatchTrace(r.RollupID, r.Number) }))
	srv.Handle(MethodDeposit, query(func(r RollupRef) (any, error) { return n.Deposit(r.RollupID, r.Number) }))
	srv.Handle(MethodExited, query(func(r AccountRef) (any, error) { return n.Exited(r.RollupID, r.Index) }))
	srv.Handle(MethodRefunded, query(func(r RollupRef) (any, error) { return n.Refunded(r.RollupID, r.Number) }))
	srv.Handle(MethodClaimed, query(func(r WithdrawalRef) (any, error) { return n.Claimed(r.RollupID, r.Batch, r.Index) }))
	srv.Handle(MethodDelayed, query(func(r WithdrawalRef) (any, error) { return n.Withdrawal(r.RollupID, r.Batch, r.Index) }))
	srv.Handle(MethodReserves, query(func(id uint64) (any, error) { return n.Reserves(id) }))
	srv.Handle(MethodStatus, n.handleStatus)
	srv.Handle(MethodBlock, query(func(h uint64) (any, error) { return n.Block(h) }))
	srv.Handle(MethodReceipts, query(func(h uint64) (any, error) { return n.Receipts(h) }))
	srv.HandleStream(MethodEvents, n.handleEvents)
	srv.Handle(l1api.MethodL2Key, query(func(r l1api.L2KeyRef) (any, error) { return n.L2Key(r.RollupID, r.KH) }))
	srv.Handle(MethodCertificate, query(func(h uint64) (any, error) { return n.Certificate(h) }))
	srv.Handle(MethodProveState, n.handleProveState)
	srv.Handle(MethodValidators, query(func(h uint64) (any, error) { return n.Signers(h) }))
}

// Serve starts a QUIC server for the node's API with cfg (its ChainID is the node's; a nil
// Priority is n.Priority(DefaultPriorityMinBalance)); the caller stops it, before stopping the node.
func (n *Node) Serve(ctx context.Context, cfg quicrpc.ServerConfig) (*quicrpc.Server, error) {
	cfg.ChainID = n.chain.ChainID()
	if cfg.ValidatorKey == nil {
		cfg.ValidatorKey = n.cfg.Key
	}
	if cfg.Priority == nil {
		cfg.Priority = n.Priority(DefaultPriorityMinBalance)
	}
	srv, err := quicrpc.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	n.Register(srv)
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	return srv, nil
}

// query adapts a read of the node to a handler: bounded payload, RLP argument, RLP reply.
func query[A any](read func(A) (any, error)) quicrpc.Handler {
	return func(_ context.Context, req *quicrpc.Request) ([]byte, error) {
		var arg A
		if err := decodeQuery(req.Payload, &arg); err != nil {
			return nil, apiError(err)
		}
		v, err := read(arg)
		if err != nil {
			return nil, apiError(err)
		}
		return rlp.EncodeToBytes(v)
	}
}

func decodeQuery(b []byte, v any) error {
	if len(b) > MaxQuerySize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadRequest, len(b), MaxQuerySize)
	}
	if err := rlp.DecodeBytes(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

// handleSubmitTx replies only once SubmitTx has acknowledged, that is after the synced write.
func (n *Node) handleSubmitTx(_ context.Context, req *quicrpc.Request) ([]byte, error) {
	h, err := n.SubmitTx(req.Payload) // bounds the size before decoding
	if err != nil {
		return nil, apiError(err)
	}
	return rlp.EncodeToBytes(h)
}

func (n *Node) handleStatus(_ context.Context, req *quicrpc.Request) ([]byte, error) {
	if len(req.Payload) != 0 {
		return nil, apiError(fmt.Errorf("%w: status takes no argument", ErrBadRequest))
	}
	s, err := n.Status()
	if err != nil {
		return nil, apiError(err)
	}
	return rlp.EncodeToBytes(&StatusReply{ChainID: s.ChainID, Height: s.Height, BlockHash: s.BlockHash,
		StateRoot: s.StateRoot, Timestamp: s.Timestamp, MempoolTxs: uint64(s.MempoolTxs), RollupCount: s.RollupCount, Halted: s.Halted,
		Fees: s.Fees})
}

// handleEvents sends the stored events from the requested height, then each new block's as it
// commits (a Subscription, one message per read), until the client closes the subscription or
// the server stops. A block's events land atomically with the block.
func (n *Node) handleEvents(ctx context.Context, req *quicrpc.Request, send func([]byte) error) error {
	var r EventsRequest
	if err := decodeQuery(req.Payload, &r); err != nil {
		return apiError(err)
	}
	sub, _ := n.Local().Events(ctx, r.FromHeight)
	defer sub.Close()
	for {
		evs, err := sub.next()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return apiError(err)
		}
		b, err := rlp.EncodeToBytes(evs)
		if err != nil {
			return err
		}
		if err := send(b); err != nil {
			return nil // the subscriber left or the server is stopping
		}
	}
}

// handleProveState decodes a bounded stateproof.Request and answers it with ProveState.
func (n *Node) handleProveState(_ context.Context, req *quicrpc.Request) ([]byte, error) {
	r, err := stateproof.DecodeRequest(req.Payload)
	if err != nil {
		return nil, apiError(fmt.Errorf("%w: %w", ErrBadRequest, err))
	}
	reply, err := n.ProveState(r)
	if err != nil {
		return nil, apiError(err)
	}
	return rlp.EncodeToBytes(reply)
}
