package l1api

import (
	"errors"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Methods of the node's QUIC API (package l1client calls them). Every payload is RLP; the
// request and reply types of each are listed with Register.
const (
	MethodSubmitTx   = "l1_submitTx"
	MethodAccount    = "l1_account"
	MethodRollup     = "l1_rollup"
	MethodBatch      = "l1_batch"
	MethodBatchData  = "l1_batchData"
	MethodBatchTrace = "l1_batchTrace"
	MethodDeposit    = "l1_deposit"
	MethodExited     = "l1_exited"
	MethodRefunded   = "l1_refunded"
	MethodClaimed    = "l1_claimed"
	MethodStatus     = "l1_status"
	MethodBlock      = "l1_block"
	MethodReceipts   = "l1_receipts"
	MethodEvents     = "l1_events"
	// MethodCertificate serves the quorum certificates of a node under CometBFT (docs/l1.md §9).
	MethodCertificate = "l1_certificate"
	// MethodProveState serves proven reads at a committed height (docs/l1.md §9, l1/node/prove.go).
	MethodProveState = "l1_proveState"
	// MethodValidators serves the validator set that certifies a height (SignerSet).
	MethodValidators = "l1_validators"
)

// Limits of the API, checked before a payload is decoded.
const (
	// MaxQuerySize bounds a query's payload: the largest is three u64s (WithdrawalRef, 28 bytes)
	// in RLP.
	MaxQuerySize = 64
	// EventsPerMessage bounds the events in one subscription message: each is signed, so
	// sending them in groups keeps a catching-up subscriber from costing one signature per event.
	EventsPerMessage = 256
)

// ErrBadRequest is a query payload that is too large or does not decode.
var ErrBadRequest = errors.New("bad request payload")

// apiErrors are the errors whose identity survives the wire: a handler error is sent as
// "<code>: <message>" and the client maps the code back to the sentinel (the message is in the
// validator's signed response, so the code is as trustworthy as the result would have been).
var apiErrors = []struct {
	code string
	err  error
}{
	{"not_found", ErrNotFound},
	{"tx_too_large", ErrTxTooLarge},
	{"tx_malformed", ErrTxMalformed},
	{"unknown_tx_type", ErrUnknownType},
	{"wrong_chain", ErrWrongChain},
	{"bad_signature", ErrBadSignature},
	{"mempool_full", ErrMempoolFull},
	{"known_tx", ErrKnownTx},
	{"nonce_too_low", ErrNonceTooLow},
	{"nonce_too_high", ErrNonceTooHigh},
	{"nonce_taken", ErrNonceTaken},
	{"sender_cap", ErrSenderCap},
	{"no_balance", ErrNoBalance},
	{"cannot_pay", ErrCannotPay},
	{"stopped", ErrStopped},
	{"halted", ErrHalted},
	{"bad_request", ErrBadRequest},
}

// APIErrorCode is the wire code of err ("internal" for an error without one).
func APIErrorCode(err error) string {
	for _, e := range apiErrors {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "internal"
}

// APIError returns the sentinel of a wire code, or nil for an unknown one.
func APIError(code string) error {
	for _, e := range apiErrors {
		if e.code == code {
			return e.err
		}
	}
	return nil
}

// SplitAPIError splits a handler's wire message into its code and the original message.
func SplitAPIError(msg string) (code, text string) {
	code, text, ok := strings.Cut(msg, ": ")
	if !ok {
		return "", msg
	}
	return code, text
}

// RollupRef names a batch (Number) or a deposit queue entry (Number is its index) of a rollup.
type RollupRef struct {
	RollupID uint64
	Number   uint64
}

// AccountRef names an L2 account of a rollup by its index (a u32, as in the L2 tree).
type AccountRef struct {
	RollupID uint64
	Index    uint32
}

// WithdrawalRef names entry Index of the withdrawal list of batch Batch of a rollup.
type WithdrawalRef struct {
	RollupID uint64
	Batch    uint64
	Index    uint64
}

// StatusReply is Status on the wire (RLP has no signed or platform-sized integers).
type StatusReply struct {
	ChainID     uint64
	Height      uint64
	BlockHash   common.Hash
	StateRoot   common.Hash
	Timestamp   uint64
	MempoolTxs  uint64
	RollupCount uint64
	Halted      string `rlp:"optional"` // why the node halted; empty while it works
	Fees        Fees   `rlp:"optional"` // the chain's transaction fees
}

// EventsRequest starts an event subscription at the first event of FromHeight.
type EventsRequest struct {
	FromHeight uint64
}

// Errors of SubmitTx; the chain's envelope errors (ErrBadSignature, ...) pass through.
var (
	ErrMempoolFull = errors.New("mempool full")
	ErrKnownTx     = errors.New("transaction already in the mempool")
	ErrStopped     = errors.New("node stopped")
	// ErrHalted: the node refuses transactions and makes no blocks; the error wraps why (a
	// storage fault, ErrStorage, or a chain error). Acknowledged transactions and sealed blocks
	// are on disk: a restart on the same datadir resumes once the cause is fixed.
	ErrHalted = errors.New("node halted")
	// ErrStorage: the store failed a write or a sync (a full disk, a failed sync, a read-only
	// datadir); pebble takes no further writes in this process.
	ErrStorage = errors.New("storage fault")
)

// Status is the node's head and mempool.
type Status struct {
	ChainID     uint64
	Height      uint64
	BlockHash   common.Hash
	StateRoot   common.Hash
	Timestamp   uint64
	MempoolTxs  int
	RollupCount uint64
	Halted      string // why the node halted (Err); empty while it works
	Fees        Fees
}

// Refusals of SubmitTx by the mempool policy (besides ErrMempoolFull and ErrKnownTx).
var (
	ErrNonceTooLow  = errors.New("nonce too low")
	ErrNonceTooHigh = errors.New("nonce too far ahead")
	ErrNonceTaken   = errors.New("a transaction with this nonce is already pending")
	ErrSenderCap    = errors.New("sender has too many pending transactions")
	ErrNoBalance    = errors.New("sender has no balance to pay fees")
	ErrCannotPay    = errors.New("balance cannot pay the pending transactions' fees and values")
)

// MethodDelayed is l1_delayed: WithdrawalRef -> WithdrawalStatus, where a withdrawal stands:
// unclaimed, paid by its claim, or held in the governor's delay queue until a height and then
// released (l1_claimed is true only once funds moved).
const MethodDelayed = "l1_delayed"

// MethodReserves is l1_reserves: rollup ID u64 -> Reserves, the rollup's proof-of-reserves
// figures (escrow = unconsumed deposits + L2 supply at the last final root + unclaimed
// withdrawals + the delay queue) with their derivation; one rollup's fixed set of figures and
// one line of text, so the reply is bounded.
const MethodReserves = "l1_reserves"

// DefaultMaxBlockBytes is the default bound of a block's raw transactions (node.Config), which
// bounds what a block reply carries.
const DefaultMaxBlockBytes = 16 << 20
