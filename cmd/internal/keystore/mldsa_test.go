package keystore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// TestMLDSAKeystore stores an L2 ML-DSA-65 account key (kind l2-mldsa): the file holds the
// ML-DSA public key in clear and the seed sealed; the public part gives the account key
// (0, MLDSAKeyHash(pub)); the decrypted key signs type 5/6 transactions that verify under the
// stored public key.
func TestMLDSAKeystore(t *testing.T) {
	k := testKey(t, KindL2MLDSA, 9)
	data := encrypt(t, k)
	got, err := Decrypt(data, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Fatal("decrypted l2-mldsa key differs from the one encrypted")
	}
	sk := pqkey.NewKeyFromSeed(k.Seed)
	pubBytes := sk.Public().Bytes()
	info, err := Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	pub := info.Public
	if pub.Kind != KindL2MLDSA || !bytes.Equal(pub.MLDSA[:], pubBytes) || !pub.L2.X.IsZero() {
		t.Fatalf("Inspect gives %s with x = %s, want l2-mldsa with x = 0 and the seed's public key", pub.Kind, pub.L2.X.String())
	}
	if kh := l2.MLDSAKeyHash(pubBytes); !pub.L2.Y.Equal(&kh) || !l2.IsMLDSAKey(pub.L2) {
		t.Fatalf("account key y = %s, want kh = %s", pub.L2.Y.String(), kh.String())
	}
	kh := pub.L2.Y.Bytes()
	if want := strings.Repeat("00", 32) + hex.EncodeToString(kh[:]); pub.String() != want {
		t.Fatalf("String() = %s, want the account key 0 || kh = %s", pub.String(), want)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f["kind"] != "l2-mldsa" || f["address"] != nil || f["public_key"] != hex.EncodeToString(pubBytes) {
		t.Fatalf("clear part: kind %v, address %v, public_key of %d hex digits; want l2-mldsa, none and the %d-byte key",
			f["kind"], f["address"], len(f["public_key"].(string)), len(pubBytes))
	}
	if bytes.Contains(data, []byte(hex.EncodeToString(k.Seed[:]))) {
		t.Fatal("the seed appears in the file")
	}

	signer, err := got.L2MLDSA()
	if err != nil {
		t.Fatal(err)
	}
	tx := l2.Tx{Type: l2.TxTransferMLDSA, From: 3, To: 4, Amount: 70, Nonce: 2}
	sig, err := l2.SignMLDSA(signer, 9, &tx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.VerifyMLDSA(pub.MLDSA[:], 9, &tx, sig); err != nil {
		t.Fatalf("signature of the stored key under its stored public key: %v", err)
	}
	if err := l2.VerifyMLDSA(pub.MLDSA[:], 10, &tx, sig); !errors.Is(err, l2.ErrMLDSASignature) {
		t.Fatalf("the signature verifies on another chain: %v", err)
	}
}

func TestMLDSAKeystoreErrors(t *testing.T) {
	a := encrypt(t, testKey(t, KindL2MLDSA, 1))
	b := encrypt(t, testKey(t, KindL2MLDSA, 2))
	var fb map[string]any
	if err := json.Unmarshal(b, &fb); err != nil {
		t.Fatal(err)
	}
	pass := string(testPassphrase)
	tests := []struct {
		name       string
		data       []byte
		passphrase string
		want       error
		msg        string
	}{
		{"wrong passphrase", a, "Correct horse battery staple", ErrWrongPassphrase, "wrong passphrase or corrupted keystore"},
		{"public key and id of another key", editJSON(t, a, func(m map[string]any) {
			m["public_key"], m["key_id"] = fb["public_key"], fb["key_id"]
		}), pass, ErrWrongPassphrase, "wrong passphrase"},
		{"public key of another key", editJSON(t, a, func(m map[string]any) { m["public_key"] = fb["public_key"] }),
			pass, ErrMalformed, "key_id does not match"},
		{"kind changed to l2-eddsa", editJSON(t, a, func(m map[string]any) { m["kind"] = string(KindL2) }),
			pass, ErrMalformed, "l2-eddsa needs a 64-byte public_key"},
		{"kind changed to l1", editJSON(t, a, func(m map[string]any) { m["kind"] = string(KindL1) }),
			pass, ErrMalformed, "l1-mldsa65 needs an address"},
		{"public key truncated", editJSON(t, a, func(m map[string]any) { m["public_key"] = m["public_key"].(string)[:64] }),
			pass, ErrMalformed, "l2-mldsa needs a 1952-byte public_key (ML-DSA-65) and no address"},
		{"address added", editJSON(t, a, func(m map[string]any) { m["address"] = "0x00000000000000000000000000000000000000aa" }),
			pass, ErrMalformed, "l2-mldsa needs a 1952-byte public_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decrypt(tt.data, []byte(tt.passphrase))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}

	// The key of the other kinds is refused by name.
	k, err := Decrypt(a, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.L2(); !errors.Is(err, ErrWrongKind) || err.Error() != "keystore: wrong kind of key: have l2-mldsa, want l2-eddsa" {
		t.Fatalf("L2() of an l2-mldsa key: %v", err)
	}
	if _, err := k.L1(); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("L1() of an l2-mldsa key: %v", err)
	}
	if _, err := testKey(t, KindL2, 1).L2MLDSA(); !errors.Is(err, ErrWrongKind) || err.Error() != "keystore: wrong kind of key: have l2-eddsa, want l2-mldsa" {
		t.Fatalf("L2MLDSA() of an l2-eddsa key: %v", err)
	}
	// The same seed as an L1 key is another key: the kind is bound to the key ID.
	l1pub, _ := testKey(t, KindL1, 1).Public()
	mpub, _ := testKey(t, KindL2MLDSA, 1).Public()
	if l1pub.ID() == mpub.ID() {
		t.Fatal("an L1 key and an l2-mldsa key of one seed have one key ID")
	}
	if !KindL2MLDSA.IsL2() || !KindL2.IsL2() || KindL1.IsL2() {
		t.Fatal("IsL2")
	}
}

// TestMLDSAShares splits an l2-mldsa key 2-of-3 and recombines it from two shares, one of them
// encrypted: the share files carry the ML-DSA public key and the recombined key is the same.
func TestMLDSAShares(t *testing.T) {
	k := testKey(t, KindL2MLDSA, 5)
	shares, err := Split(k, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	clearFile, err := shares[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sealedFile, err := shares[2].Encrypt(testPassphrase, testParams)
	if err != nil {
		t.Fatal(err)
	}
	s0, err := ParseShare(clearFile, "share 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ParseShare(sealedFile, "share 3", func() ([]byte, error) { return testPassphrase, nil })
	if err != nil {
		t.Fatal(err)
	}
	got, err := Combine([]Share{s0, s2})
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Fatal("recombined l2-mldsa key differs")
	}
	if _, err := Combine([]Share{s0}); !errors.Is(err, ErrTooFewShares) {
		t.Fatalf("one share of 2: %v", err)
	}
}
