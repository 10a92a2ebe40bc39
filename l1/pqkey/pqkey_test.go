package pqkey_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

func testKey(t testing.TB, b byte) *pqkey.PrivateKey {
	t.Helper()
	var seed [pqkey.SeedSize]byte
	seed[0] = b
	return pqkey.NewKeyFromSeed(seed)
}

func TestSignVerifyDomainSeparation(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	payload := []byte("deposit 100 to 0xabc")
	sig, err := k.Sign(pqkey.ContextL1Tx, 7, 3, payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != pqkey.SignatureSize {
		t.Fatalf("signature of %d bytes", len(sig))
	}
	if err := k.Public().Verify(pqkey.ContextL1Tx, 7, 3, payload, sig); err != nil {
		t.Fatalf("valid signature rejected: %v", err)
	}
	tampered := bytes.Clone(sig)
	tampered[100] ^= 1
	tests := []struct {
		name    string
		key     *pqkey.PublicKey
		ctx     pqkey.Context
		chain   uint64
		nonce   uint64
		payload []byte
		sig     []byte
	}{
		{"other context", k.Public(), pqkey.ContextRequest, 7, 3, payload, sig},
		{"other chain", k.Public(), pqkey.ContextL1Tx, 8, 3, payload, sig},
		{"other nonce", k.Public(), pqkey.ContextL1Tx, 7, 4, payload, sig},
		{"other payload", k.Public(), pqkey.ContextL1Tx, 7, 3, []byte("deposit 101 to 0xabc"), sig},
		{"other key", other.Public(), pqkey.ContextL1Tx, 7, 3, payload, sig},
		{"tampered signature", k.Public(), pqkey.ContextL1Tx, 7, 3, payload, tampered},
		{"short signature", k.Public(), pqkey.ContextL1Tx, 7, 3, payload, sig[:100]},
		{"empty signature", k.Public(), pqkey.ContextL1Tx, 7, 3, payload, nil},
	}
	for _, tc := range tests {
		err := tc.key.Verify(tc.ctx, tc.chain, tc.nonce, tc.payload, tc.sig)
		if !errors.Is(err, pqkey.ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", tc.name, err)
		}
	}
}

func TestContextBounds(t *testing.T) {
	k := testKey(t, 1)
	for _, ctx := range []pqkey.Context{"", pqkey.Context(bytes.Repeat([]byte{'a'}, 256))} {
		if _, err := k.Sign(ctx, 1, 1, nil); !errors.Is(err, pqkey.ErrBadContext) {
			t.Errorf("Sign with a %d-byte context: %v", len(ctx), err)
		}
		if err := k.Public().Verify(ctx, 1, 1, nil, make([]byte, pqkey.SignatureSize)); !errors.Is(err, pqkey.ErrBadContext) {
			t.Errorf("Verify with a %d-byte context: %v", len(ctx), err)
		}
	}
}

func TestAddressAndEncoding(t *testing.T) {
	k := testKey(t, 9)
	pub := k.Public()
	if len(pub.Bytes()) != pqkey.PublicKeySize {
		t.Fatalf("public key of %d bytes", len(pub.Bytes()))
	}
	want := crypto.Keccak256(pub.Bytes())[12:]
	if !bytes.Equal(pub.Address().Bytes(), want) || k.Address() != pub.Address() {
		t.Fatalf("address %x, want keccak256(pk)[12:] = %x", pub.Address(), want)
	}
	parsed, err := pqkey.ParsePublicKey(pub.Bytes())
	if err != nil || parsed.Address() != pub.Address() {
		t.Fatalf("ParsePublicKey round trip: %v", err)
	}
	for _, n := range []int{0, pqkey.PublicKeySize - 1, pqkey.PublicKeySize + 1} {
		if _, err := pqkey.ParsePublicKey(make([]byte, n)); !errors.Is(err, pqkey.ErrBadKey) {
			t.Errorf("ParsePublicKey of %d bytes: %v", n, err)
		}
	}
	again := pqkey.NewKeyFromSeed(k.Seed())
	if again.Address() != k.Address() {
		t.Fatal("the seed does not reproduce the key")
	}
	if testKey(t, 10).Address() == k.Address() {
		t.Fatal("two seeds gave one address")
	}
}

func BenchmarkSign(b *testing.B) {
	k := testKey(b, 1)
	payload := make([]byte, 256)
	for b.Loop() {
		if _, err := k.Sign(pqkey.ContextRequest, 1, 1, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKey(b, 1)
	payload := make([]byte, 256)
	sig, _ := k.Sign(pqkey.ContextRequest, 1, 1, payload)
	for b.Loop() {
		if err := k.Public().Verify(pqkey.ContextRequest, 1, 1, payload, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignDeterministic: the deterministic variant gives the same signature for the same
// inputs, which verifies like a hedged one; the L2 contexts separate transactions from exodus.
func TestSignDeterministic(t *testing.T) {
	k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{9})
	payload := []byte("l2 message")
	a, err := k.SignDeterministic(pqkey.ContextL2Tx, 7, 3, payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.SignDeterministic(pqkey.ContextL2Tx, 7, 3, payload)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two deterministic signatures of the same inputs differ")
	}
	if err := k.Public().Verify(pqkey.ContextL2Tx, 7, 3, payload, a); err != nil {
		t.Fatal(err)
	}
	if err := k.Public().Verify(pqkey.ContextL2Exodus, 7, 3, payload, a); !errors.Is(err, pqkey.ErrBadSignature) {
		t.Fatalf("an L2 transaction signature verifies as an exodus: %v", err)
	}
	c, err := k.SignDeterministic(pqkey.ContextL2Tx, 7, 4, payload)
	if err != nil || bytes.Equal(a, c) {
		t.Fatalf("another nonce gives the same signature (%v)", err)
	}
	if _, err := k.SignDeterministic("", 7, 3, payload); !errors.Is(err, pqkey.ErrBadContext) {
		t.Fatalf("empty context: %v", err)
	}
}
