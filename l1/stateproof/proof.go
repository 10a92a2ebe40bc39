// Package stateproof verifies L1 state against a state root: the proof of one key's value (or of
// its absence) in the binary sparse Merkle tree whose root is every L1 block's state root, the
// request and reply of the proven read l1_proveState, and the state keys a client asks for. It
// links neither pebble nor the state machine (l1/chain builds the tree with the hashes defined
// here). docs/l1.md §4.
package stateproof

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// MaxDepth is the depth of the tree (paths are 256-bit key hashes), so a proof holds at most
// MaxDepth siblings.
const MaxDepth = 256

// MaxProofSize bounds an encoded proof: MaxDepth siblings of 33 bytes, the leaf and headers.
const MaxProofSize = MaxDepth*33 + 128

// Errors of Verify and DecodeProof; errors.Is works on the wrapped forms.
var (
	ErrMalformed = errors.New("stateproof: malformed proof")
	ErrMismatch  = errors.New("stateproof: proof does not lead to the state root")
)

// Node tags: a leaf hashes as keccak256(0x00 || keyHash || valueHash), an inner node as
// keccak256(0x01 || left || right); an empty subtree is the zero hash.
const (
	TagLeaf  = 0x00
	TagInner = 0x01
)

// LeafHash is the hash of the leaf of a key whose keccak256 is keyHash and whose value's
// keccak256 is valueHash.
func LeafHash(keyHash, valueHash common.Hash) common.Hash {
	return crypto.Keccak256Hash([]byte{TagLeaf}, keyHash[:], valueHash[:])
}

// InnerHash is the hash of an inner node with the given children.
func InnerHash(left, right common.Hash) common.Hash {
	return crypto.Keccak256Hash([]byte{TagInner}, left[:], right[:])
}

// Bit is bit i (0 = most significant) of a path: 0 goes left, 1 right.
func Bit(path common.Hash, i int) byte { return path[i/8] >> (7 - i%8) & 1 }

// Proof is the path of a key through the tree, from the root down to where the key's path ends:
// Siblings[i] is the hash of the sibling of the path's node at depth i+1. The path ends at the
// key's own leaf (inclusion), at an empty subtree (absence; HasLeaf false) or at the leaf of
// another key sharing the path's first len(Siblings) bits (absence). A subtree holding one leaf
// is that leaf, so paths are as long as the keys' hashes need to part, not 256.
type Proof struct {
	Siblings  []common.Hash
	HasLeaf   bool
	LeafKey   common.Hash // keccak256 of the key of the leaf the path ends at
	LeafValue common.Hash // keccak256 of its value
}

// Encode is the proof's RLP encoding.
func (p *Proof) Encode() ([]byte, error) { return rlp.EncodeToBytes(p) }

// DecodeProof decodes an encoded proof, refusing one longer than MaxProofSize or with more than
// MaxDepth siblings.
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxProofSize)
	}
	var p Proof
	if err := rlp.DecodeBytes(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Proof) check() error {
	if len(p.Siblings) > MaxDepth {
		return fmt.Errorf("%w: %d siblings, at most %d", ErrMalformed, len(p.Siblings), MaxDepth)
	}
	if !p.HasLeaf && (p.LeafKey != common.Hash{} || p.LeafValue != common.Hash{}) {
		return fmt.Errorf("%w: leaf hashes without a leaf", ErrMalformed)
	}
	return nil
}

// Verify checks that under root the key holds value, or, for a nil value, that the key is absent.
// An empty value is a present key holding no bytes, not an absent one.
func Verify(root common.Hash, key, value []byte, p *Proof) error {
	if p == nil {
		return fmt.Errorf("%w: no proof", ErrMalformed)
	}
	if err := p.check(); err != nil {
		return err
	}
	path := crypto.Keccak256Hash(key)
	depth := len(p.Siblings)
	var h common.Hash // an empty subtree
	switch {
	case value != nil && !p.HasLeaf:
		return fmt.Errorf("%w: key %x: the proof shows it absent", ErrMismatch, key)
	case value != nil && p.LeafKey != path:
		return fmt.Errorf("%w: key %x: the proof ends at another key's leaf", ErrMismatch, key)
	case value != nil && p.LeafValue != crypto.Keccak256Hash(value):
		return fmt.Errorf("%w: key %x: the proof holds another value", ErrMismatch, key)
	case value == nil && p.HasLeaf && p.LeafKey == path:
		return fmt.Errorf("%w: key %x: the proof shows it present", ErrMismatch, key)
	case value == nil && p.HasLeaf:
		for i := range depth {
			if Bit(p.LeafKey, i) != Bit(path, i) {
				return fmt.Errorf("%w: key %x: the proof ends at a leaf off its path (bit %d)", ErrMismatch, key, i)
			}
		}
	}
	if p.HasLeaf {
		h = LeafHash(p.LeafKey, p.LeafValue)
	}
	for i := depth - 1; i >= 0; i-- {
		if Bit(path, i) == 0 {
			h = InnerHash(h, p.Siblings[i])
		} else {
			h = InnerHash(p.Siblings[i], h)
		}
	}
	if h != root {
		return fmt.Errorf("%w: key %x: computed root %s, want %s", ErrMismatch, key, h, root)
	}
	return nil
}
