package quicrpc

import (
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
)

// Errors of this package; errors.Is works on every error Call, Subscribe and Dial return.
var (
	ErrReplay          = errors.New("quicrpc: replayed request (nonce already used)")
	ErrBadSignature    = errors.New("quicrpc: signature does not verify")
	ErrWrongChain      = errors.New("quicrpc: envelope for another chain")
	ErrBindingMismatch = errors.New("quicrpc: envelope bound to another connection")
	ErrTooLarge        = errors.New("quicrpc: message too large")
	ErrNotPostQuantum  = errors.New("quicrpc: key exchange is not X25519MLKEM768")
	ErrRateLimited     = errors.New("quicrpc: rate limited")
	ErrUnknownMethod   = errors.New("quicrpc: unknown method")
	ErrRemote          = errors.New("quicrpc: remote error")
	ErrMalformed       = errors.New("quicrpc: malformed message")
	ErrTimeout         = errors.New("quicrpc: request timed out")
	ErrClosed          = errors.New("quicrpc: closed")
	// ErrNotMember: the server's key is not in the validator set the client pinned.
	ErrNotMember = errors.New("quicrpc: validator key is not a member of the pinned set")
	// ErrRefused: the server refused the connection under its admission limits (admission.go):
	// before the handshake (server full, per-address cap, handshake rate; the reason is only in
	// the server's metrics) or at the first request (per-key cap, slots reserved for funded keys;
	// the reason is in the message).
	ErrRefused = errors.New("quicrpc: connection refused by the server's limits")
)

// Stream reset codes: how the server rejects a request before it has authenticated the sender
// (see the package doc). They are QUIC application error codes, unauthenticated by design.
const (
	codeNone quic.StreamErrorCode = iota
	codeMalformed
	codeTooLarge
	codeWrongChain
	codeBindingMismatch
	codeBadSignature
	codeRateLimited
	codeUnknownMethod
	codeTimeout
	codeShutdown
	codeCanceled // the client gave up on the stream
)

var codeErrors = []struct {
	code quic.StreamErrorCode
	err  error
}{
	{codeMalformed, ErrMalformed},
	{codeTooLarge, ErrTooLarge},
	{codeWrongChain, ErrWrongChain},
	{codeBindingMismatch, ErrBindingMismatch},
	{codeBadSignature, ErrBadSignature},
	{codeRateLimited, ErrRateLimited},
	{codeUnknownMethod, ErrUnknownMethod},
	{codeTimeout, ErrTimeout},
	{codeShutdown, ErrClosed},
}

// errorCode is the reset code for a server-side rejection error.
func errorCode(err error) quic.StreamErrorCode {
	for _, ce := range codeErrors {
		if errors.Is(err, ce.err) {
			return ce.code
		}
	}
	return codeMalformed
}

// Connection close codes.
const (
	connCodeOK             quic.ApplicationErrorCode = 0
	connCodeNotPostQuantum quic.ApplicationErrorCode = 1
	connCodeBusy           quic.ApplicationErrorCode = 2
	connCodeShutdown       quic.ApplicationErrorCode = 3
)

// streamError turns a reset by the server into this package's error.
func streamError(err error) error {
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote {
		for _, ce := range codeErrors {
			if ce.code == se.ErrorCode {
				return fmt.Errorf("%w (rejected by server, unsigned stream reset %d)", ce.err, se.ErrorCode)
			}
		}
	}
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode == connCodeNotPostQuantum {
		return fmt.Errorf("%w: %v", ErrNotPostQuantum, err)
	}
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode == connCodeBusy {
		return fmt.Errorf("%w: %s", ErrRefused, ae.ErrorMessage)
	}
	return err
}
