package quicrpc

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const (
	frameHeaderSize = 4    // big-endian u32 length before every frame
	bindingSize     = 32   // TLS exporter output length, fixed by the protocol
	maxMethodLen    = 64   // method names are short protocol words, not data
	maxErrorLen     = 1024 // a server error message is for humans; longer ones are cut
	// envelopeOverhead bounds what a request or response adds around its payload (keys,
	// signature, RLP headers, method), so payload limits can be checked before signing.
	envelopeOverhead = pqkey.PublicKeySize + pqkey.SignatureSize + maxMethodLen + maxErrorLen + 256
)

// request is the signed request envelope.
type request struct {
	Method    string
	ChainID   uint64
	Sender    []byte
	Nonce     uint64
	Binding   []byte
	Payload   []byte
	Signature []byte
}

// response is the signed response envelope; with Seq > 0 it is a subscription event.
type response struct {
	RequestHash common.Hash
	Seq         uint64
	Status      uint64
	Error       string
	Payload     []byte
	Signature   []byte
}

// Response status codes. Only outcomes after the sender's signature was verified are signed
// responses; earlier rejections are stream reset codes (errors.go).
const (
	statusOK     uint64 = 0
	statusReplay uint64 = 1
	statusError  uint64 = 2 // the handler failed; Error carries its message
	statusMax           = statusError
)

// requestSigningPayload is what the sender signs besides chain ID and nonce.
func requestSigningPayload(method string, sender, binding, payload []byte) []byte {
	b, err := rlp.EncodeToBytes([]any{method, sender, binding, payload})
	if err != nil {
		panic(fmt.Sprintf("quicrpc: encoding request signing payload: %v", err)) // only fails on unsupported types
	}
	return b
}

// responseSigningPayload is what the validator signs besides chain ID and sequence.
func responseSigningPayload(reqHash common.Hash, binding []byte, status uint64, errMsg string, payload []byte) []byte {
	b, err := rlp.EncodeToBytes([]any{reqHash, binding, status, errMsg, payload})
	if err != nil {
		panic(fmt.Sprintf("quicrpc: encoding response signing payload: %v", err))
	}
	return b
}

func responseContext(seq uint64) pqkey.Context {
	if seq == 0 {
		return pqkey.ContextResponse
	}
	return pqkey.ContextEvent
}

// requestHash identifies a request frame in the responses to it.
func requestHash(frame []byte) common.Hash { return crypto.Keccak256Hash(frame) }

// decodeRequest decodes a request frame body and checks every field's size; it does not verify
// the signature. sch gives the key and signature sizes of the signature scheme in use.
func decodeRequest(b []byte, sch *scheme) (*request, error) {
	var r request
	if err := rlp.DecodeBytes(b, &r); err != nil {
		return nil, fmt.Errorf("%w: request: %v", ErrMalformed, err)
	}
	switch {
	case len(r.Method) == 0 || len(r.Method) > maxMethodLen:
		return nil, fmt.Errorf("%w: request method of %d bytes", ErrMalformed, len(r.Method))
	case len(r.Sender) != sch.publicKeySize:
		return nil, fmt.Errorf("%w: sender key of %d bytes, want %d", ErrMalformed, len(r.Sender), sch.publicKeySize)
	case len(r.Binding) != bindingSize:
		return nil, fmt.Errorf("%w: binding of %d bytes, want %d", ErrMalformed, len(r.Binding), bindingSize)
	case len(r.Signature) != sch.signatureSize:
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(r.Signature), sch.signatureSize)
	}
	return &r, nil
}

// decodeResponse decodes a response or event frame body and checks every field's size; it does
// not verify the signature.
func decodeResponse(b []byte, sch *scheme) (*response, error) {
	var r response
	if err := rlp.DecodeBytes(b, &r); err != nil {
		return nil, fmt.Errorf("%w: response: %v", ErrMalformed, err)
	}
	switch {
	case r.Status > statusMax:
		return nil, fmt.Errorf("%w: response status %d", ErrMalformed, r.Status)
	case len(r.Error) > maxErrorLen:
		return nil, fmt.Errorf("%w: error message of %d bytes", ErrMalformed, len(r.Error))
	case len(r.Signature) != sch.signatureSize:
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(r.Signature), sch.signatureSize)
	}
	return &r, nil
}

// readFrame reads one frame of at most max bytes. The length is checked before the body is
// allocated, so a peer cannot make us allocate more than max.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrTooLarge, n, max)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// writeFrame writes body as one frame in a single Write (one STREAM frame burst, not two).
func writeFrame(w io.Writer, body []byte) error {
	buf := make([]byte, frameHeaderSize+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[frameHeaderSize:], body)
	_, err := w.Write(buf)
	return err
}

func encode(v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		panic(fmt.Sprintf("quicrpc: encoding %T: %v", v, err)) // our envelope types always encode
	}
	return b
}
