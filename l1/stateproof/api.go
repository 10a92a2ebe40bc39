package stateproof

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// Limits of a proven read (l1_proveState), checked before a request is decoded.
const (
	MaxKeys   = 64
	MaxKeyLen = 256
	// MaxRequestSize bounds an encoded Request: MaxKeys keys of MaxKeyLen bytes and the height.
	MaxRequestSize = MaxKeys*(MaxKeyLen+3) + 16
	// MaxValueBytes bounds the values of one reply (a node refuses a request over it), which
	// keeps a reply of large values (batch data) under the QUIC layer's 4 MiB message.
	MaxValueBytes = 3 << 20
)

// Request asks for keys of the state at Height: 0 is the newest height the node holds a
// certificate for (under single-validator consensus, its head).
type Request struct {
	Height uint64
	Keys   [][]byte
}

// DecodeRequest decodes a request, refusing one over the limits.
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("stateproof: request of %d bytes, at most %d", len(b), MaxRequestSize)
	}
	var r Request
	if err := rlp.DecodeBytes(b, &r); err != nil {
		return nil, fmt.Errorf("stateproof: request: %w", err)
	}
	return &r, r.Check()
}

// Check enforces the limits on the keys: 1 to MaxKeys keys, each 1 to MaxKeyLen bytes.
func (r *Request) Check() error {
	if len(r.Keys) == 0 || len(r.Keys) > MaxKeys {
		return fmt.Errorf("stateproof: %d keys, 1 to %d", len(r.Keys), MaxKeys)
	}
	for i, k := range r.Keys {
		if len(k) == 0 || len(k) > MaxKeyLen {
			return fmt.Errorf("stateproof: key %d of %d bytes, 1 to %d", i, len(k), MaxKeyLen)
		}
	}
	return nil
}

// Entry is one key's value at the reply's height (Present false: the key is absent, Value is
// empty) and the proof of it against the reply's AppHash.
type Entry struct {
	Key     []byte
	Present bool
	Value   []byte
	Proof   Proof
}

// Reply is the answer of l1_proveState: the state of the requested keys at Height, whose state
// root is AppHash, and Cert, the encoded l1/qc certificate of Height (empty from a
// single-validator node, whose signed reply and header vouch for the height instead).
type Reply struct {
	Height  uint64
	AppHash common.Hash
	Cert    []byte
	Entries []Entry
}

// Check enforces the bounds of a decoded reply: at most MaxKeys entries, keys of at most
// MaxKeyLen bytes, proofs of at most MaxDepth siblings.
func (r *Reply) Check() error {
	if len(r.Entries) > MaxKeys {
		return fmt.Errorf("%w: reply of %d entries, at most %d", ErrMalformed, len(r.Entries), MaxKeys)
	}
	for i := range r.Entries {
		if len(r.Entries[i].Key) > MaxKeyLen {
			return fmt.Errorf("%w: entry %d: key of %d bytes", ErrMalformed, i, len(r.Entries[i].Key))
		}
		if err := r.Entries[i].Proof.check(); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// VerifyEntries checks that the reply answers exactly keys, in order, and that every entry's
// proof leads to AppHash. It does not check Cert: the caller verifies the certificate of
// (Height, AppHash) against the validator set it pinned.
func (r *Reply) VerifyEntries(keys [][]byte) error {
	if len(r.Entries) != len(keys) {
		return fmt.Errorf("stateproof: reply holds %d entries for %d keys", len(r.Entries), len(keys))
	}
	for i := range r.Entries {
		e := &r.Entries[i]
		if !bytes.Equal(e.Key, keys[i]) {
			return fmt.Errorf("stateproof: entry %d is for key %x, asked %x", i, e.Key, keys[i])
		}
		if err := e.Verify(r.AppHash); err != nil {
			return err
		}
	}
	return nil
}

// Verify checks the entry's proof against root.
func (e *Entry) Verify(root common.Hash) error {
	var v []byte
	switch {
	case e.Present && e.Value == nil:
		v = []byte{}
	case e.Present:
		v = e.Value
	case len(e.Value) != 0:
		return fmt.Errorf("%w: key %x absent with a value", ErrMalformed, e.Key)
	}
	return Verify(root, e.Key, v, &e.Proof)
}
