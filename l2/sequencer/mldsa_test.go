package sequencer

import (
	"bytes"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// mldsaTestKey is a deterministic ML-DSA-65 key.
func mldsaTestKey(seed byte) *pqkey.PrivateKey {
	var s [pqkey.SeedSize]byte
	s[0], s[1] = seed, 0x17
	return pqkey.NewKeyFromSeed(s)
}

// signedMLDSA is what rollup_sendTransaction takes for a type 5/6: the record signed with key
// for chainID, followed by its signature.
func signedMLDSA(t testing.TB, key *pqkey.PrivateKey, chainID uint64, tx l2.Tx) []byte {
	t.Helper()
	sig, err := l2.SignMLDSA(key, chainID, &tx)
	if err != nil {
		t.Fatal(err)
	}
	rec := tx.Encode()
	return append(rec[:], sig...)
}

// fundMLDSA deposits amount to the ML-DSA account of each key (the deposit carries the key)
// and returns the indices the deposits landed at.
func (h *harness) fundMLDSA(keys []*pqkey.PrivateKey, amount uint64) []uint32 {
	h.t.Helper()
	first := uint64(0)
	for i, k := range keys {
		q := h.deps.AddMLDSA(k.Public().Bytes(), amount)
		if i == 0 {
			first = q
		}
	}
	end := first + uint64(len(keys))
	waitFor(h.t, "deposits", func() bool { return uint64(h.status().DepositCursor) >= end })
	return h.depositIndices(first, end)
}

// mldsaConfig is the test configuration for ML-DSA transactions: the native core executes
// them.
func mldsaConfig(t *testing.T) Config { return testConfig(t) }

// TestAdmissionMLDSA sends ML-DSA transfers and withdrawals, and each refusal at admission with
// its valid twin: the wrong size, the wrong key kind both ways, a bad signature (another chain,
// a signature not matching w2), an unknown key, and a validity-only sequencer.
func TestAdmissionMLDSA(t *testing.T) {
	h := start(t, mldsaConfig(t))
	pq := []*pqkey.PrivateKey{mldsaTestKey(1), mldsaTestKey(2)}
	ed := newKeys(t, 1, 17)
	pqIdx := h.fundMLDSA(pq, 1_000_000)
	edIdx := h.fund(ed, 1_000_000)
	a, b, e := pqIdx[0], pqIdx[1], edIdx[0]
	if acc := h.account(a); acc.PubKeyX != (common.Hash{}) || acc.PubKeyY != khHash(pq[0].Public().Bytes()) {
		t.Fatalf("ML-DSA account %d holds key (%x, %x), want (0, its key hash)", a, acc.PubKeyX, acc.PubKeyY)
	}

	transfer := l2.Tx{Type: l2.TxTransferMLDSA, From: a, To: e, Amount: 1000, Nonce: 0}
	good := signedMLDSA(t, pq[0], testChainID, transfer)
	otherChain := signedMLDSA(t, pq[0], testChainID+1, transfer)
	wrongSig := append(append([]byte(nil), good[:l2.TxSize]...), otherChain[l2.TxSize:]...) // digest is not w2
	fromEdDSA := signedMLDSA(t, pq[0], testChainID, l2.Tx{Type: l2.TxTransferMLDSA, From: e, To: a, Amount: 1, Nonce: 0})
	eddsaFromPQ := signed(t, ed[0], l2.Tx{Type: l2.TxTransfer, From: a, To: e, Amount: 1, Nonce: 0})
	for _, c := range []struct {
		name   string
		raw    []byte
		code   int
		reason string
	}{
		{"record without its signature", good[:l2.TxSize], CodeTxSize, "tx_size"},
		{"signature cut short", good[:len(good)-1], CodeTxSize, "tx_size"},
		{"EdDSA record with a signature after it", append(signed(t, ed[0], l2.Tx{Type: l2.TxTransfer, From: e, To: a, Amount: 1}), good[l2.TxSize:]...), CodeTxSize, "tx_size"},
		{"signed for another chain", otherChain, StatusCode(l2.StatusBadSignature), "bad_signature"},
		{"signature whose digest is not w2", wrongSig, StatusCode(l2.StatusBadSignature), "bad_signature"},
		{"type 5 from an EdDSA account", fromEdDSA, StatusCode(l2.StatusKeyKindMismatch), "key_kind_mismatch"},
		{"type 2 from an ML-DSA account", eddsaFromPQ, StatusCode(l2.StatusKeyKindMismatch), "key_kind_mismatch"},
	} {
		_, err := h.send(c.raw)
		if code, reason := rpcCode(err); code != c.code || reason != c.reason {
			t.Errorf("%s: got %d %q (%v), want %d %q", c.name, code, reason, err, c.code, c.reason)
		}
	}
	// The valid twins: the transfer, an EdDSA transfer of the EdDSA account, a withdrawal.
	withdraw := signedMLDSA(t, pq[1], testChainID, l2.Tx{Type: l2.TxWithdrawMLDSA, From: b, Address: [20]byte{0xaa}, Amount: 5000, Nonce: 0})
	hashes := []common.Hash{h.mustSend(good), h.mustSend(signed(t, ed[0], l2.Tx{Type: l2.TxTransfer, From: e, To: a, Amount: 7})), h.mustSend(withdraw)}
	if hashes[0] != common.Hash(TxHash(good[:l2.TxSize])) {
		t.Fatalf("hash %x, want the record's %x", hashes[0], TxHash(good[:l2.TxSize]))
	}
	if again := h.mustSend(good); again != hashes[0] { // idempotent
		t.Fatalf("resend: hash %x, want %x", again, hashes[0])
	}
	for _, x := range hashes {
		if r := h.waitReceipt(x); r.Status != "ok" || !r.Included {
			t.Fatalf("receipt of %x: %+v", x, r)
		}
	}
	if got := h.account(a); got.Balance != 1_000_000-1000+7 || got.Nonce != 1 {
		t.Fatalf("account %d: balance %d nonce %d", a, got.Balance, got.Nonce)
	}
	if got := h.account(b); got.Balance != 1_000_000-5000 || got.Nonce != 1 {
		t.Fatalf("account %d: balance %d nonce %d", b, got.Balance, got.Nonce)
	}
	// The blocks carry the signatures: the Go reference replays them with ML-DSA verified.
	keys := l2.KeyMap{}
	for _, k := range pq {
		keys.Add(k.Public().Bytes())
	}
	blocks := h.blocks()
	ref := replayReferenceKeys(t, h.cfg.Depth, blocks, keys)
	if r := rootBytes(ref); common.Hash(r) != blocks[len(blocks)-1].PostRoot {
		t.Fatalf("reference root %x, sequencer %x", r, blocks[len(blocks)-1].PostRoot)
	}
	// After a restart the sequencer still knows the keys (stored with the deposits' block) and
	// its stored blocks still hold the signatures.
	h.restart()
	next := h.mustSend(signedMLDSA(t, pq[0], testChainID, l2.Tx{Type: l2.TxTransferMLDSA, From: a, To: b, Amount: 1, Nonce: 1}))
	if r := h.waitReceipt(next); r.Status != "ok" {
		t.Fatalf("after restart: receipt %+v", r)
	}
	replayReferenceKeys(t, h.cfg.Depth, h.blocks(), keys)
}

// TestAdmissionMLDSAKeys: an ML-DSA account whose key the sequencer never saw in a deposit
// (pk = (0, kh) without the key) refuses its transactions as unknown_key, and the same account
// is served once Config.Keys (L1's registry) knows the key.
func TestAdmissionMLDSAKeys(t *testing.T) {
	key := mldsaTestKey(3)
	pub := key.Public().Bytes()
	for _, known := range []bool{false, true} {
		cfg := mldsaConfig(t)
		if known {
			cfg.Keys = l2.KeyMap{}
			cfg.Keys.(l2.KeyMap).Add(pub)
		}
		h := start(t, cfg)
		q := h.deps.Add(l2.MLDSAPublicKey(pub), 100) // the deposit does not carry the key
		waitFor(t, "deposit", func() bool { return uint64(h.status().DepositCursor) > q })
		idx := h.depositIndices(q, q+1)[0]
		raw := signedMLDSA(t, key, testChainID, l2.Tx{Type: l2.TxWithdrawMLDSA, From: idx, Amount: 10})
		hash, err := h.send(raw)
		if !known {
			if code, reason := rpcCode(err); code != CodeUnknownKey || reason != "unknown_key" {
				t.Fatalf("key unknown: got %d %q (%v)", code, reason, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("key known through Config.Keys: %v", err)
		}
		if r := h.waitReceipt(hash); r.Status != "ok" {
			t.Fatalf("receipt %+v", r)
		}
	}
}

// TestAdmissionMLDSAValidityOnly: a validity-only sequencer (NoMLDSA) refuses types 5/6 with
// mldsa_refused, and takes the EdDSA twin.
func TestAdmissionMLDSAValidityOnly(t *testing.T) {
	cfg := mldsaConfig(t)
	cfg.NoMLDSA = true
	h := start(t, cfg)
	key := mldsaTestKey(4)
	ed := newKeys(t, 1, 18)
	a := h.fundMLDSA([]*pqkey.PrivateKey{key}, 100)[0]
	e := h.fund(ed, 100)[0]
	_, err := h.send(signedMLDSA(t, key, testChainID, l2.Tx{Type: l2.TxTransferMLDSA, From: a, To: e, Amount: 1}))
	if code, reason := rpcCode(err); code != CodeMLDSARefused || reason != "mldsa_refused" {
		t.Fatalf("ML-DSA at a validity-only sequencer: got %d %q (%v)", code, reason, err)
	}
	if r := h.waitReceipt(h.mustSend(signed(t, ed[0], l2.Tx{Type: l2.TxTransfer, From: e, To: a, Amount: 1}))); r.Status != "ok" {
		t.Fatalf("EdDSA twin: receipt %+v", r)
	}
}

// TestDevDepositMLDSA: rollup_devDeposit takes an ML-DSA-65 public key and creates its account
// (0, kh); a key of another size is refused by name.
func TestDevDepositMLDSA(t *testing.T) {
	cfg := mldsaConfig(t)
	cfg.Dev = true
	h := start(t, cfg)
	pub := mldsaTestKey(5).Public().Bytes()
	var q hexutil.Uint64
	err := h.c.Call(&q, "rollup_devDeposit", hexutil.Bytes(pub[1:]), hexutil.Uint64(5))
	if code, reason := rpcCode(err); code != CodeMalformed || reason != "malformed" {
		t.Fatalf("short key: got %d %q (%v)", code, reason, err)
	}
	if err := h.c.Call(&q, "rollup_devDeposit", hexutil.Bytes(pub), hexutil.Uint64(5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deposit", func() bool { return uint64(h.status().DepositCursor) > uint64(q) })
	idx := h.depositIndices(uint64(q), uint64(q)+1)[0]
	if acc := h.account(idx); acc.PubKeyX != (common.Hash{}) || acc.PubKeyY != khHash(pub) || acc.Balance != 5 {
		t.Fatalf("account %d: %+v", idx, acc)
	}
	if _, ok, err := h.s.keys.lookup(l2.MLDSAKeyHash(pub)); err != nil || !ok {
		t.Fatalf("the sequencer did not learn the deposit's key: %v %v", ok, err)
	}
}

// khHash is the key hash of an ML-DSA-65 public key as rollup_getAccount shows it (pubkeyY).
func khHash(pub []byte) common.Hash {
	kh := l2.MLDSAKeyHash(pub)
	return kh.Bytes()
}

// TestBlockCodecSignatures: a stored block keeps each type 5/6 record's signature after it, also
// beyond the 256 one batch takes (a block is not a batch), with its trace; a cut signature is
// refused.
func TestBlockCodecSignatures(t *testing.T) {
	const n = l2.MaxBatchMLDSATxs + 44
	var data, trace []byte
	sigs := make([][]byte, n)
	for k := range n {
		tx := l2.Tx{Type: l2.TxTransfer, From: uint32(k), To: 1, Amount: 1}
		if k%7 != 3 {
			sigs[k] = make([]byte, l2.MLDSASigSize)
			sigs[k][0], sigs[k][1] = byte(k), byte(k>>8)
			tx.Type, tx.SigDigest = l2.TxTransferMLDSA, l2.MLDSASigDigest(sigs[k])
		}
		rec := tx.Encode()
		data = append(data, rec[:]...)
		trace = append(trace, make([]byte, 32)...)
		trace[len(trace)-1] = byte(k)
	}
	h := Header{Number: 9, TxCount: n}
	v := encodeBlock(&h, data, sigs, trace)
	b, err := decodeBlock(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Data, data) || !bytes.Equal(b.Trace, trace) || len(b.Sigs) != n {
		t.Fatalf("decoded block differs: %d bytes of records, %d of trace, %d signatures", len(b.Data), len(b.Trace), len(b.Sigs))
	}
	for k := range sigs {
		if !bytes.Equal(b.Sig(k), sigs[k]) {
			t.Fatalf("signature %d differs", k)
		}
	}
	if _, err := decodeBlock(v[:len(v)-32*n-1]); err == nil { // the last signature cut by a byte
		t.Fatal("a block with a cut signature decoded")
	}
	if got := b.BatchData(); len(got) != len(v)-headerSize-len(trace) {
		t.Fatalf("batch data of %d bytes", len(got))
	}
}

// TestKeyBookBounded: the key book keeps at most maxParsedKeys keys parsed; a key dropped from
// memory is read again from the database (the keys of executed deposits).
func TestKeyBookBounded(t *testing.T) {
	h := start(t, mldsaConfig(t))
	key := mldsaTestKey(6)
	h.fundMLDSA([]*pqkey.PrivateKey{key}, 1)
	kh := l2.MLDSAKeyHash(key.Public().Bytes())
	k := h.s.keys
	filler := key.Public()
	for i := range maxParsedKeys + 10 {
		var x fr.Element
		x.SetUint64(uint64(i) + 1)
		k.keep(x, filler)
	}
	if n := len(k.cache); n != maxParsedKeys {
		t.Fatalf("%d keys in memory, want at most %d", n, maxParsedKeys)
	}
	k.mu.Lock()
	delete(k.cache, kh) // dropped, if it was not already
	k.mu.Unlock()
	pk, ok, err := k.lookup(kh)
	if err != nil || !ok || !bytes.Equal(pk.Bytes(), key.Public().Bytes()) {
		t.Fatalf("key dropped from memory: lookup %v %v", ok, err)
	}
}
