package stateproof

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// FuzzDecodeProof: any input decodes to a proof within the bounds that encodes back to it, or
// is refused with ErrMalformed; Verify on what decodes never panics.
func FuzzDecodeProof(f *testing.F) {
	_, p, _ := twoKeyTree([]byte("a"), []byte("1"), []byte("b"), []byte("2"))
	b, err := p.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("rejection %v is not ErrMalformed", err)
			}
			return
		}
		if len(p.Siblings) > MaxDepth {
			t.Fatalf("%d siblings decoded", len(p.Siblings))
		}
		enc, err := p.Encode()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("decoded proof encodes to %x (%v), input %x", enc, err, b)
		}
		if err := Verify(common.Hash{}, []byte("a"), nil, p); err != nil && !errors.Is(err, ErrMismatch) {
			t.Fatalf("Verify: %v", err)
		}
	})
}

// FuzzDecodeRequest: any input (what a node reads from a client) decodes to a request within the
// limits that encodes back to it, or is refused.
func FuzzDecodeRequest(f *testing.F) {
	b, err := rlp.EncodeToBytes(&Request{Height: 3, Keys: [][]byte{AccountKey(common.Address{1}), RollupKey(2)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		if len(r.Keys) == 0 || len(r.Keys) > MaxKeys {
			t.Fatalf("%d keys decoded", len(r.Keys))
		}
		enc, err := rlp.EncodeToBytes(r)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("decoded request encodes to %x (%v), input %x", enc, err, b)
		}
	})
}
