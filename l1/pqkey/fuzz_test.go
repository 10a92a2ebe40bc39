package pqkey

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// FuzzParsePublicKey: every envelope's sender key goes through ParsePublicKey first. It never
// panics, a rejection is ErrBadKey, and an accepted key encodes back to the bytes it came from
// (so its address is the keccak of exactly what was received).
func FuzzParsePublicKey(f *testing.F) {
	k := NewKeyFromSeed([SeedSize]byte{1})
	f.Add(k.Public().Bytes())
	f.Add(k.Public().Bytes()[1:])
	f.Add(make([]byte, PublicKeySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := ParsePublicKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("rejection %v is not ErrBadKey", err)
			}
			return
		}
		if !bytes.Equal(pk.Bytes(), b) {
			t.Fatal("an accepted key encodes to other bytes")
		}
	})
}

// FuzzVerify feeds arbitrary signatures and payloads to Verify under one key, context, chain and
// nonce. The seed signature is made deterministically (Sign randomizes, which would give every
// fuzzing worker a different one), so the property is exact: it never panics, a rejection is
// ErrBadSignature, and only the seed signature over the seed payload verifies.
func FuzzVerify(f *testing.F) {
	k := NewKeyFromSeed([SeedSize]byte{2})
	const chainID, nonce = 7, 9
	payload := []byte("transfer 10 to bob")
	sig := make([]byte, SignatureSize)
	if err := mldsa65.SignTo(k.sk, message(chainID, nonce, payload), []byte(ContextTxTransfer), false, sig); err != nil {
		f.Fatal(err)
	}
	if err := k.Public().Verify(ContextTxTransfer, chainID, nonce, payload, sig); err != nil {
		f.Fatalf("the seed signature does not verify: %v", err)
	}
	f.Add(sig, payload)
	f.Add(sig[:SignatureSize-1], payload)
	f.Add(make([]byte, SignatureSize), payload)
	f.Fuzz(func(t *testing.T, s, p []byte) {
		err := k.Public().Verify(ContextTxTransfer, chainID, nonce, p, s)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("rejection %v is not ErrBadSignature", err)
			}
			return
		}
		if !bytes.Equal(s, sig) || !bytes.Equal(p, payload) {
			t.Fatalf("verified a signature or payload the key never signed: sig %x, payload %q", s, p)
		}
	})
}
