package sequencer

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pqbridge/pqbridge/l2"
)

// JSON-RPC error codes. Every rejection of rollup_sendTransaction has its own code, and its
// data names the reason ({"reason": "<name>", "detail": "..."}); docs/sequencer.md lists them.
const (
	// Structural errors of the 160-byte record (docs/protocol.md §5.3) and request shape.
	CodeTxSize         = -32010 // not 160 bytes (types 2, 3), or 160 + 3,309 (types 5, 6: record and signature)
	CodeMalformed      = -32011 // reserved or unused fields not zero, address >= 2^160
	CodeNonCanonical   = -32012 // a word >= p
	CodeUnknownType    = -32013 // type > 6
	CodeTypeNotAllowed = -32014 // no-op, deposit or refund: deposits come from L1 only
	CodeMLDSARefused   = -32015 // an ML-DSA transaction (type 5, 6) at a validity-only sequencer
	// Mempool policy.
	CodeNonceTaken   = -32020 // a different pending tx has the same (sender, nonce): no replacement
	CodeNonceTooHigh = -32021 // too far ahead of the account's nonce
	CodeMempoolFull  = -32023
	// CodeOverloaded (-32024, backpressure.go): settlement lags; retry after data.retry_after_ms.
	// Service.
	CodeUnavailable = -32030 // stopping, or a fatal error stopped block production
	CodeDurability  = -32031 // the write-ahead log could not be synced: not acknowledged
	CodeDevDisabled = -32032 // a dev-only method on a sequencer started without --dev
	CodeNotFound    = -32033 // index outside the tree, and similar lookups of impossible things
	CodeUnknownKey  = -32034 // the ML-DSA-65 key of the sender's key hash is not known (nor on L1)
	// CodeStatusBase + s for a transaction the state would reject with status s (docs §7.1):
	// -32101 index_out_of_range ... -32109 bad_signature, -32111 key_kind_mismatch.
	CodeStatusBase = -32100
)

// Error is a JSON-RPC error with a code and data (go-ethereum rpc's Error and DataError).
type Error struct {
	Code   int
	Reason string // a short name: a docs §7.1 status, a §5.3 error, or a policy name above
	Detail string
	// RetryAfter is when a refusal that is no fault of the transaction (overloaded) may be
	// retried: the data's "retry_after_ms" (0: not given).
	RetryAfter time.Duration
}

func (e *Error) Error() string  { return e.Reason + ": " + e.Detail }
func (e *Error) ErrorCode() int { return e.Code }
func (e *Error) ErrorData() any {
	d := map[string]string{"reason": e.Reason, "detail": e.Detail}
	if e.RetryAfter > 0 {
		d["retry_after_ms"] = strconv.FormatInt(e.RetryAfter.Milliseconds(), 10)
	}
	return d
}
func (e *Error) Is(t error) bool { // errors.Is(err, &Error{Code: c}) matches by code
	var o *Error
	return errors.As(t, &o) && o.Code == e.Code
}

func newError(code int, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// StatusCode is the JSON-RPC error code of a transaction rejected with status s.
func StatusCode(s l2.Status) int { return CodeStatusBase - int(s) }

func errStatus(s l2.Status, format string, args ...any) *Error {
	return newError(StatusCode(s), s.String(), format, args...)
}

// structuralError maps an l2 decoding error (docs §5.3) to its JSON-RPC error.
func structuralError(err error) *Error {
	switch {
	case errors.Is(err, l2.ErrNonCanonical):
		return newError(CodeNonCanonical, "non_canonical", "%v", err)
	case errors.Is(err, l2.ErrUnknownType):
		return newError(CodeUnknownType, "unknown_type", "%v", err)
	default:
		return newError(CodeMalformed, "malformed", "%v", err)
	}
}

// ErrStopped is returned by calls after Stop or after a fatal error.
var ErrStopped = newError(CodeUnavailable, "unavailable", "sequencer is not running")
