package challenger

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// keySource is a fault-injection Source that knows only L2Key: keys from a map, and err for
// every lookup once set (an L1 that is down).
type keySource struct {
	Source
	keys    l2.KeyMap
	err     error
	lookups int
}

func (s *keySource) L2Key(_ context.Context, _ uint64, kh [32]byte) ([]byte, error) {
	s.lookups++
	if s.err != nil {
		return nil, s.err
	}
	var e fr.Element
	e.SetBytes(kh[:])
	if pub, ok := s.keys.MLDSAKey(e); ok {
		return pub, nil
	}
	return nil, l1api.ErrNotFound
}

func testMLDSAKey(seed byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x17, 1: seed})
}

// TestKeyCacheFetch: the challenger fetches from L1 the keys of a batch's ML-DSA senders (the
// accounts before the batch, and the batch's ML-DSA deposits) once, leaves out a key L1 does not
// know, and returns L1's other errors.
func TestKeyCacheFetch(t *testing.T) {
	pub, pub2 := testMLDSAKey(1).Public().Bytes(), testMLDSAKey(2).Public().Bytes()
	src := &keySource{keys: l2.KeyMap{}}
	pk := src.keys.Add(pub)
	pk2 := src.keys.Add(pub2)
	unknown := l2.MLDSAPublicKey(pub[1:])
	accounts := map[uint32]l2.Account{3: {PubKey: pk}, 4: {PubKey: unknown}, 5: {PubKey: l2test.NewSigner(big.NewInt(7001)).Public()}}
	read := func(i uint32) (l2.Account, bool, error) { a, ok := accounts[i]; return a, ok, nil }
	txs := []l2.Tx{{Type: l2.TxTransferMLDSA, From: 3}, {Type: l2.TxWithdrawMLDSA, From: 4}, {Type: l2.TxTransferMLDSA, From: 5},
		{Type: l2.TxDeposit, From: 6, PubKey: pk2}, {Type: l2.TxTransfer, From: 3}}
	k := newKeyCache(src, 1)
	if err := k.fetch(context.Background(), txs, read); err != nil {
		t.Fatal(err)
	}
	if got, ok := k.MLDSAKey(pk.Y); !ok || string(got) != string(pub) {
		t.Fatal("the sender's key is not cached")
	}
	if _, ok := k.MLDSAKey(pk2.Y); !ok {
		t.Fatal("the deposit's key is not cached")
	}
	if _, ok := k.MLDSAKey(unknown.Y); ok || src.lookups != 3 {
		t.Fatalf("unknown key cached, or %d lookups, want 3", src.lookups)
	}
	if err := k.fetch(context.Background(), txs[:1], read); err != nil || src.lookups != 3 {
		t.Fatalf("a cached key fetched again: %d lookups, %v", src.lookups, err)
	}
	src.err = errors.New("l1 down")
	if err := k.fetch(context.Background(), txs[1:2], read); err == nil || !errors.Is(err, src.err) {
		t.Fatalf("an L1 error: %v", err)
	}
}

// TestSignatureChecksMLDSA: the core executor's signature checks cover ML-DSA transactions
// under their sender's key (from the witnesses before the batch, or the batch's deposit), in
// the worker pool with the EdDSA ones, and find a forged one, an unknown key and a wrong one.
func TestSignatureChecksMLDSA(t *testing.T) {
	pq, forger := testMLDSAKey(1), testMLDSAKey(2)
	keys := l2.KeyMap{}
	pk := keys.Add(pq.Public().Bytes())
	ed := l2test.NewSigner(big.NewInt(7001))
	witness := func(i uint32, p l2.PublicKey) ffi.Witness {
		return ffi.Witness{Index: i, Account: ffi.Account{PubKeyX: p.X.Bytes(), PubKeyY: p.Y.Bytes(), Exists: true}}
	}
	pre := []ffi.Witness{witness(1, ed.Public()), witness(2, pk)}
	sign := func(k *pqkey.PrivateKey, tx l2.Tx) l2.Tx {
		if _, err := l2.SignMLDSA(k, testChainID, &tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	edTx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 1}
	ed.Sign(testChainID, &edTx, l2test.TorsionPoint(1))
	txs := []l2.Tx{
		sign(pq, l2.Tx{Type: l2.TxTransferMLDSA, From: 2, To: 1, Amount: 1}), // 0: valid
		edTx, // 1: valid EdDSA
		sign(forger, l2.Tx{Type: l2.TxWithdrawMLDSA, From: 2, Amount: 1}), // 2: forged
		{Type: l2.TxDeposit, From: 3, PubKey: l2.MLDSAPublicKey(forger.Public().Bytes())},
		sign(forger, l2.Tx{Type: l2.TxTransferMLDSA, From: 3, To: 1, Amount: 1}), // 4: key unknown to keys
		sign(pq, l2.Tx{Type: l2.TxTransferMLDSA, From: 1, To: 2, Amount: 1}),     // 5: EdDSA sender: key_kind_mismatch, no check
	}
	checks, mldsa, positions := signatureChecks(txs, pre, keys)
	if len(checks) != 1 || len(mldsa) != 3 || len(positions) != 4 || positions[0] != 1 || positions[1] != 0 || positions[3] != 4 {
		t.Fatalf("%d EdDSA and %d ML-DSA checks at %v", len(checks), len(mldsa), positions)
	}
	got := verifySignatures(txchallenge.NewHasher(testChainID), testChainID, checks, mldsa)
	if want := []bool{true, true, false, false}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("results %v, want %v", got, want)
	}
}
