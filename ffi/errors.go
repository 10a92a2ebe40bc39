package ffi

// #include "pqcore.h"
import "C"

import (
	"errors"
	"fmt"
)

// Call-level errors, one per pq_status of pqcore.h. The core leaves its state unchanged whenever
// it returns one of them.
var (
	// ErrMalformed: batch data length is not a multiple of TxSize, the batch is empty, or a
	// record's layout is wrong (reserved or unused fields not zero, withdraw address ≥ 2^160).
	ErrMalformed = errors.New("malformed batch data")
	// ErrUnknownType: a record's type byte is > 6.
	ErrUnknownType = errors.New("unknown transaction type")
	// ErrNonCanonical: a 32-byte word is not a canonical field element (≥ p).
	ErrNonCanonical = errors.New("non-canonical field element")
	// ErrBatchTooLarge: more than MaxBatchTxs records.
	ErrBatchTooLarge = errors.New("batch too large")
	// ErrBufferTooSmall: an output buffer is shorter than required.
	ErrBufferTooSmall = errors.New("output buffer too small")
	// ErrIndexOutOfRange: an account index ≥ 2^depth (Account, Witness).
	ErrIndexOutOfRange = errors.New("account index out of range")
	// ErrInvalidArgument: a depth outside [TreeDepthMin, TreeDepthMax], a nil output, too many
	// hash inputs, mismatched input lengths, ...
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrOutOfMemory: the core could not reserve memory.
	ErrOutOfMemory = errors.New("core out of memory")
	// ErrSnapshotInvalid: snapshot bytes fail a check of docs/protocol.md §9.
	ErrSnapshotInvalid = errors.New("invalid snapshot")

	// ErrClosed: the Core was closed.
	ErrClosed = errors.New("core is closed")
	// ErrUnknownStatus: the core returned a status code this binding does not know; it means
	// the library and pqcore.h (or this package) are out of step.
	ErrUnknownStatus = errors.New("unknown core status")
)

// statusErrors maps a pq_status code to its sentinel; index 0 (PQ_OK) is nil.
var statusErrors = [...]error{
	C.PQ_OK:                     nil,
	C.PQ_ERR_MALFORMED:          ErrMalformed,
	C.PQ_ERR_UNKNOWN_TYPE:       ErrUnknownType,
	C.PQ_ERR_NON_CANONICAL:      ErrNonCanonical,
	C.PQ_ERR_BATCH_TOO_LARGE:    ErrBatchTooLarge,
	C.PQ_ERR_BUFFER_TOO_SMALL:   ErrBufferTooSmall,
	C.PQ_ERR_INDEX_OUT_OF_RANGE: ErrIndexOutOfRange,
	C.PQ_ERR_INVALID_ARGUMENT:   ErrInvalidArgument,
	C.PQ_ERR_OUT_OF_MEMORY:      ErrOutOfMemory,
	C.PQ_ERR_SNAPSHOT_INVALID:   ErrSnapshotInvalid,
}

// statusError returns the sentinel for a pq_status code (nil for PQ_OK).
func statusError(code int) error {
	if code >= 0 && code < len(statusErrors) {
		return statusErrors[code]
	}
	return fmt.Errorf("%w %d", ErrUnknownStatus, code)
}

// TxStatus is the per-transaction result of docs/protocol.md §7.1, one byte per transaction.
// It is not an error: a transaction with a status other than TxOK left the state unchanged.
type TxStatus uint8

// Per-transaction status codes (docs/protocol.md §7.1).
const (
	TxOK                  TxStatus = C.PQ_TX_OK
	TxIndexOutOfRange     TxStatus = C.PQ_TX_INDEX_OUT_OF_RANGE
	TxSenderNotFound      TxStatus = C.PQ_TX_SENDER_NOT_FOUND
	TxRecipientNotFound   TxStatus = C.PQ_TX_RECIPIENT_NOT_FOUND
	TxBadNonce            TxStatus = C.PQ_TX_BAD_NONCE
	TxNonceExhausted      TxStatus = C.PQ_TX_NONCE_EXHAUSTED
	TxInsufficientBalance TxStatus = C.PQ_TX_INSUFFICIENT_BALANCE
	TxBalanceOverflow     TxStatus = C.PQ_TX_BALANCE_OVERFLOW
	TxPubkeyMismatch      TxStatus = C.PQ_TX_PUBKEY_MISMATCH
	// TxBadSignature is never produced by the core, which does not check signatures.
	TxBadSignature TxStatus = C.PQ_TX_BAD_SIGNATURE
	// TxDepositPlaceable: a refund of a deposit that some index could take (§7.6).
	TxDepositPlaceable TxStatus = C.PQ_TX_DEPOSIT_PLACEABLE
	// TxKeyKindMismatch: a type 2/3 from an ML-DSA account (pk.x = 0) or a type 5/6 from an
	// EdDSA account (§7).
	TxKeyKindMismatch TxStatus = C.PQ_TX_KEY_KIND_MISMATCH
)

var txStatusNames = [...]string{
	TxOK:                  "ok",
	TxIndexOutOfRange:     "index_out_of_range",
	TxSenderNotFound:      "sender_not_found",
	TxRecipientNotFound:   "recipient_not_found",
	TxBadNonce:            "bad_nonce",
	TxNonceExhausted:      "nonce_exhausted",
	TxInsufficientBalance: "insufficient_balance",
	TxBalanceOverflow:     "balance_overflow",
	TxPubkeyMismatch:      "pubkey_mismatch",
	TxBadSignature:        "bad_signature",
	TxDepositPlaceable:    "deposit_placeable",
	TxKeyKindMismatch:     "key_kind_mismatch",
}

// String returns the spec name of the status (docs/protocol.md §7.1).
func (s TxStatus) String() string {
	if int(s) < len(txStatusNames) {
		return txStatusNames[s]
	}
	return fmt.Sprintf("tx_status(%d)", uint8(s))
}
