package l2_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

func mldsaKey(seed byte) *pqkey.PrivateKey {
	var s [pqkey.SeedSize]byte
	s[0] = seed
	return pqkey.NewKeyFromSeed(s)
}

func TestMLDSADigests(t *testing.T) {
	pub := mldsaKey(1).Public().Bytes()
	want := sha256.Sum256(append([]byte("pqbridge/l2-mldsa-key/v1"), pub...))
	want[0] = 0
	kh := l2.MLDSAKeyHash(pub)
	if got := kh.Bytes(); got != want {
		t.Fatalf("MLDSAKeyHash = %x, want %x", got, want)
	}
	wantSig := sha256.Sum256(append([]byte("pqbridge/l2-mldsa-sig/v1"), pub...))
	wantSig[0] = 0
	if got := l2.MLDSASigDigest(pub); got.Bytes() != wantSig {
		t.Fatalf("MLDSASigDigest = %x, want %x", got.Bytes(), wantSig)
	}
	pk := l2.MLDSAPublicKey(pub)
	if !pk.X.IsZero() || !pk.Y.Equal(&kh) || !l2.IsMLDSAKey(pk) {
		t.Fatalf("MLDSAPublicKey = %v", pk)
	}
	var one fr.Element
	one.SetOne()
	if l2.IsMLDSAKey(l2.PublicKey{X: one, Y: kh}) {
		t.Fatal("a key with x = 1 is ML-DSA")
	}
}

func mldsaTx(t *testing.T, key *pqkey.PrivateKey, typ l2.TxType) l2.Tx {
	t.Helper()
	tx := l2.Tx{Type: typ, From: 3, Amount: 100, Nonce: 7}
	if typ == l2.TxTransferMLDSA {
		tx.To = 4
	} else {
		tx.Address = [20]byte{0xaa, 19: 0xbb}
	}
	sig, err := l2.SignMLDSA(key, 42, &tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != l2.MLDSASigSize || !bytes.Equal(sig, tx.MLDSASig) {
		t.Fatalf("SignMLDSA: %d bytes, tx.MLDSASig %d bytes", len(sig), len(tx.MLDSASig))
	}
	if d := l2.MLDSASigDigest(sig); !d.Equal(&tx.SigDigest) {
		t.Fatal("SignMLDSA did not set w2 to the signature's digest")
	}
	return tx
}

func TestSignVerifyMLDSA(t *testing.T) {
	key := mldsaKey(1)
	pub := key.Public().Bytes()
	for _, typ := range []l2.TxType{l2.TxTransferMLDSA, l2.TxWithdrawMLDSA} {
		tx := mldsaTx(t, key, typ)
		if err := l2.VerifyMLDSA(pub, 42, &tx, tx.MLDSASig); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if w := tx.Words(); !w[2].Equal(&tx.SigDigest) || !w[3].IsZero() || !w[4].IsZero() {
			t.Fatalf("%s: words %v", typ, w)
		}
		dec, err := l2.DecodeTx(func() []byte { b := tx.Encode(); return b[:] }())
		if err != nil || dec.SigDigest != tx.SigDigest || dec.Type != typ || dec.Address != tx.Address {
			t.Fatalf("%s: decoded %+v, %v", typ, dec, err)
		}
		other := tx
		other.Amount++
		bad := map[string]func() error{
			"other chain":  func() error { return l2.VerifyMLDSA(pub, 43, &tx, tx.MLDSASig) },
			"other amount": func() error { return l2.VerifyMLDSA(pub, 42, &other, tx.MLDSASig) },
			"other key":    func() error { return l2.VerifyMLDSA(mldsaKey(2).Public().Bytes(), 42, &tx, tx.MLDSASig) },
			"short key":    func() error { return l2.VerifyMLDSA(pub[1:], 42, &tx, tx.MLDSASig) },
			"short sig":    func() error { return l2.VerifyMLDSA(pub, 42, &tx, tx.MLDSASig[1:]) },
			"digest": func() error {
				sig := bytes.Clone(tx.MLDSASig)
				sig[100] ^= 1
				return l2.VerifyMLDSA(pub, 42, &tx, sig)
			},
		}
		for name, f := range bad {
			if err := f(); !errors.Is(err, l2.ErrMLDSASignature) {
				t.Errorf("%s: %s: %v, want ErrMLDSASignature", typ, name, err)
			}
		}
	}
	edTx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2}
	if _, err := l2.SignMLDSA(key, 42, &edTx); err == nil {
		t.Fatal("SignMLDSA signed a type 2")
	}
}

// mixedBatch is a batch of an EdDSA transfer, two ML-DSA transactions and a no-op.
func mixedBatch(t *testing.T) []l2.Tx {
	key := mldsaKey(1)
	return []l2.Tx{
		{Type: l2.TxTransfer, From: 1, To: 2, Amount: 5},
		mldsaTx(t, key, l2.TxTransferMLDSA),
		mldsaTx(t, key, l2.TxWithdrawMLDSA),
		{Type: l2.TxNoop},
	}
}

func TestSplitJoinBatchData(t *testing.T) {
	txs := mixedBatch(t)
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4*l2.TxSize + 2*l2.MLDSASigSize; len(data) != want {
		t.Fatalf("interleaved data of %d bytes, want %d", len(data), want)
	}
	// The signature of record 1 follows it directly.
	if !bytes.Equal(data[2*l2.TxSize:2*l2.TxSize+l2.MLDSASigSize], txs[1].MLDSASig) {
		t.Fatal("signature 1 is not right after record 1")
	}
	records, sigs, err := l2.SplitBatchData(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(records, l2.EncodeBatch(txs)) || len(sigs) != 4 || sigs[0] != nil || sigs[3] != nil ||
		!bytes.Equal(sigs[1], txs[1].MLDSASig) || !bytes.Equal(sigs[2], txs[2].MLDSASig) {
		t.Fatalf("SplitBatchData: %d record bytes, %d sigs", len(records), len(sigs))
	}
	joined, err := l2.JoinBatchData(records, sigs)
	if err != nil || !bytes.Equal(joined, data) {
		t.Fatalf("JoinBatchData: %v", err)
	}
	dec, dsigs, err := l2.DecodeBatchData(data)
	if err != nil || len(dec) != 4 || !bytes.Equal(dec[2].MLDSASig, txs[2].MLDSASig) || dsigs[2] == nil {
		t.Fatalf("DecodeBatchData: %v", err)
	}
	if err := l2.CheckSignatureDigests(dec, dsigs); err != nil {
		t.Fatal(err)
	}
	swapped := [][]byte{nil, sigs[2], sigs[1], nil}
	if err := l2.CheckSignatureDigests(dec, swapped); !errors.Is(err, l2.ErrSignatureUnavailable) || !strings.Contains(err.Error(), "record 1") {
		t.Fatalf("swapped signatures: %v", err)
	}
	// The data hash is over the records only.
	h1, err := l2.DataHash(data)
	if err != nil || h1 != l2.TxsDataHash(txs) {
		t.Fatalf("DataHash: %v", err)
	}
	if _, err := l2.JoinBatchData(records, [][]byte{nil, sigs[1], nil, nil}); err == nil {
		t.Fatal("JoinBatchData without signature 2")
	}
	if _, err := l2.JoinBatchData(records, [][]byte{sigs[1], sigs[1], sigs[2], nil}); err == nil {
		t.Fatal("JoinBatchData with a signature on an EdDSA transfer")
	}
}

func TestSplitBatchDataErrors(t *testing.T) {
	txs := mixedBatch(t)
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		t.Fatal(err)
	}
	mldsaRec := data[l2.TxSize : 2*l2.TxSize+l2.MLDSASigSize]
	tooMany := bytes.Repeat(mldsaRec, l2.MaxBatchMLDSATxs+1)
	tests := []struct {
		name   string
		data   []byte
		want   error
		detail string
	}{
		{"empty", nil, l2.ErrMalformed, "empty batch"},
		{"truncated record", data[:l2.TxSize+100], l2.ErrMalformed, "record 1: 100 bytes left"},
		{"truncated signature", data[:2*l2.TxSize+l2.MLDSASigSize-1], l2.ErrMalformed, "record 1: truncated ML-DSA signature"},
		{"missing signature", data[:2*l2.TxSize], l2.ErrMalformed, "record 1: truncated ML-DSA signature"},
		{"too many ML-DSA records", tooMany, l2.ErrBatchTooLarge, "257 ML-DSA records, at most 256"},
		{"4097 records", make([]byte, (l2.MaxBatchTxs+1)*l2.TxSize), l2.ErrBatchTooLarge, "4097 records, at most 4096"},
		{"4097 records, the last truncated (length before count)", make([]byte, (l2.MaxBatchTxs+1)*l2.TxSize-1), l2.ErrMalformed, "record 4096: 159 bytes left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := l2.SplitBatchData(tc.data)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("SplitBatchData = %v, want %v (%s)", err, tc.want, tc.detail)
			}
		})
	}
	// 256 ML-DSA records are within the limit, and the largest batch fits MaxBatchDataSize.
	if _, sigs, err := l2.SplitBatchData(tooMany[:l2.MaxBatchMLDSATxs*len(mldsaRec)]); err != nil || len(sigs) != l2.MaxBatchMLDSATxs {
		t.Fatalf("256 ML-DSA records: %v", err)
	}
	if l2.MaxBatchDataSize != 4096*160+256*3309 {
		t.Fatalf("MaxBatchDataSize = %d", l2.MaxBatchDataSize)
	}
}

func TestApplyMLDSA(t *testing.T) {
	key := mldsaKey(1)
	pub := key.Public().Bytes()
	edKey, err := l2.GenerateKey(bytes.NewReader(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	keys := l2.KeyMap{}
	pqPK := keys.Add(pub)
	accounts := []l2.IndexedAccount{
		{Index: 3, Account: l2.Account{PubKey: pqPK, Balance: 1000, Nonce: 7}},
		{Index: 4, Account: l2.Account{PubKey: edKey.Public(), Balance: 1000, Nonce: 7}},
	}
	state := func() *l2.State {
		s, err := l2.NewStateFromAccounts(4, accounts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	opts := l2.ApplyOptions{ChainID: 42, VerifySignatures: true, Keys: keys}
	transfer := mldsaTx(t, key, l2.TxTransferMLDSA) // 3 -> 4, 100, nonce 7
	withdraw := mldsaTx(t, key, l2.TxWithdrawMLDSA)

	s := state()
	if st, _ := s.Apply(&transfer, opts); st != l2.StatusOK {
		t.Fatalf("transfer_mldsa: %s", st)
	}
	if a, _ := s.Account(3); a.Balance != 900 || a.Nonce != 8 {
		t.Fatalf("sender after transfer_mldsa: %+v", a)
	}
	if a, _ := s.Account(4); a.Balance != 1100 {
		t.Fatalf("recipient after transfer_mldsa: %+v", a)
	}
	s = state()
	st, wleaf := s.Apply(&withdraw, opts)
	if want := l2.WithdrawalLeaf(withdraw.Address, 100); st != l2.StatusOK || !wleaf.Equal(&want) {
		t.Fatalf("withdraw_mldsa: %s", st)
	}

	// Key kind mismatch, both ways, before the signature and the nonce.
	edFromPQ := l2.Tx{Type: l2.TxTransfer, From: 3, To: 4, Amount: 1, Nonce: 99}
	pqFromEd := transfer
	pqFromEd.From = 4
	for name, tx := range map[string]*l2.Tx{"type 2 from ML-DSA": &edFromPQ, "type 5 from EdDSA": &pqFromEd} {
		if st, _ := state().Apply(tx, opts); st != l2.StatusKeyKindMismatch {
			t.Errorf("%s: %s, want key_kind_mismatch", name, st)
		}
	}
	// bad_signature: unknown key, a tampered signature, another signer.
	noKeys := opts
	noKeys.Keys = nil
	tampered := transfer
	tampered.MLDSASig = bytes.Clone(transfer.MLDSASig)
	tampered.MLDSASig[0] ^= 1
	tampered.SigDigest = l2.MLDSASigDigest(tampered.MLDSASig)
	other := transfer
	if _, err := l2.SignMLDSA(mldsaKey(2), 42, &other); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tx   *l2.Tx
		opts l2.ApplyOptions
	}{
		"nil KeyBook":   {&transfer, noKeys},
		"unknown key":   {&transfer, l2.ApplyOptions{ChainID: 42, VerifySignatures: true, Keys: l2.KeyMap{}}},
		"tampered":      {&tampered, opts},
		"other signer":  {&other, opts},
		"digest not w2": {&l2.Tx{Type: transfer.Type, From: 3, To: 4, Amount: 100, Nonce: 7, MLDSASig: transfer.MLDSASig}, opts},
		"other chain":   {&transfer, l2.ApplyOptions{ChainID: 43, VerifySignatures: true, Keys: keys}},
		// A KeyBook that answers kh with another key (whose signature this is) verifies nothing.
		"key of another hash": {&other, l2.ApplyOptions{ChainID: 42, VerifySignatures: true,
			Keys: l2.KeyMap{pqPK.Y: mldsaKey(2).Public().Bytes()}}},
		"withdraw tampered": {&l2.Tx{Type: withdraw.Type, From: 3, Amount: 101, Nonce: 7, Address: withdraw.Address, SigDigest: withdraw.SigDigest, MLDSASig: withdraw.MLDSASig}, opts},
	}
	for name, c := range cases {
		if st, _ := state().Apply(c.tx, c.opts); st != l2.StatusBadSignature {
			t.Errorf("%s: %s, want bad_signature", name, st)
		}
	}
	// Without signature checks (the core's view) the tampered one applies.
	if st, _ := state().Apply(&tampered, l2.ApplyOptions{ChainID: 42}); st != l2.StatusOK {
		t.Errorf("tampered without VerifySignatures: %s", st)
	}
}
