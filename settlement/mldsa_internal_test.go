package settlement

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// mldsaRecord is a type 5 record whose w2 is the digest of sig, and sig.
func mldsaRecord(t *testing.T, from uint32, fill byte) ([]byte, []byte) {
	t.Helper()
	sig := bytes.Repeat([]byte{fill}, l2.MLDSASigSize)
	tx := l2.Tx{Type: l2.TxTransferMLDSA, From: from, To: from + 1, Amount: 1, SigDigest: l2.MLDSASigDigest(sig)}
	rec := tx.Encode()
	return rec[:], sig
}

// TestRecordKeepsSignatures: a batch record stores the signatures of its type 5/6 records; read
// back, the batch posts its interleaved data (each signature after its record), and the
// commitment's data is the records only. A batch without any reads back with no signatures.
func TestRecordKeepsSignatures(t *testing.T) {
	ed := l2.Tx{Type: l2.TxTransfer, From: 3, To: 4, Amount: 2}
	edRec := ed.Encode()
	rec1, sig1 := mldsaRecord(t, 1, 0xa1)
	rec2, sig2 := mldsaRecord(t, 2, 0xb2)
	data := append(append(append([]byte(nil), rec1...), edRec[:]...), rec2...)
	sigs := [][]byte{sig1, nil, sig2}
	for _, c := range []struct {
		name string
		b    *built
		want []byte // the interleaved data
	}{
		{"mixed", &built{Data: data, Sigs: sigs, Trace: make([]fr.Element, 3)},
			append(append(append(append(append([]byte(nil), rec1...), sig1...), edRec[:]...), rec2...), sig2...)},
		{"EdDSA only", &built{Data: edRec[:], Trace: make([]fr.Element, 1)}, edRec[:]},
	} {
		enc, err := rlp.EncodeToBytes(newRecord(c.b, Position{1, 0}, Position{2, 0}))
		if err != nil {
			t.Fatal(err)
		}
		var r record
		if err := rlp.DecodeBytes(enc, &r); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := r.built()
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.batchData()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Fatalf("%s: batch data of %d bytes (%v), want %d", c.name, len(got), err, len(c.want))
		}
		if !bytes.Equal(b.Data, c.b.Data) || b.mldsa() != (c.b.Sigs != nil) {
			t.Fatalf("%s: records or ML-DSA flag changed through the record", c.name)
		}
		if _, _, err := l2.DecodeBatchData(got); err != nil {
			t.Fatalf("%s: posted data does not parse: %v", c.name, err)
		}
	}
}

// TestBatchEndMLDSALimit: a batch takes at most l2.MaxBatchMLDSATxs ML-DSA transactions,
// whatever the cut size; EdDSA ones around them do not count.
func TestBatchEndMLDSALimit(t *testing.T) {
	e := &Engine{cfg: Config{MaxOptimisticTxs: l2.MaxBatchTxs, MaxValidityTxs: l2.MaxBatchTxs}}
	e.policy.Store(uint32(PolicyOptimistic))
	add := func(n int, mldsa bool) {
		for range n {
			p := pendingTx{}
			if mldsa {
				p.sig = []byte{1}
			}
			e.pending = append(e.pending, p)
		}
	}
	add(100, false)
	add(l2.MaxBatchMLDSATxs, true)
	if got := e.batchEnd(); got != 100+l2.MaxBatchMLDSATxs {
		t.Fatalf("%d pending with %d ML-DSA: batch of %d", len(e.pending), l2.MaxBatchMLDSATxs, got)
	}
	add(1, true)
	add(50, false)
	if got := e.batchEnd(); got != 100+l2.MaxBatchMLDSATxs {
		t.Fatalf("one ML-DSA transaction over the limit: batch of %d, want %d", got, 100+l2.MaxBatchMLDSATxs)
	}
	e.pending = e.pending[:0]
	add(l2.MaxBatchTxs+10, false)
	if got := e.batchEnd(); got != l2.MaxBatchTxs {
		t.Fatalf("EdDSA only: batch of %d, want the cut size %d", got, l2.MaxBatchTxs)
	}
}

// TestCrossCheckMLDSA: the cross-check verifies an ML-DSA withdrawal's signature under the key
// Config.Keys gives: a valid one passes, one made for another chain (its digest in w2, the
// state the same) halts it with ErrCrossCheck, and with the key unknown it is left unverified.
func TestCrossCheckMLDSA(t *testing.T) {
	key := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x17, 0xcc})
	pub := key.Public().Bytes()
	for _, c := range []struct {
		name  string
		chain uint64 // the signature's
		known bool   // Config.Keys knows the key
		fails bool
	}{
		{"valid", 7, true, false},
		{"another chain", 8, true, true},
		{"key unknown", 8, false, false},
	} {
		st, err := l2.NewState(l2.MinTreeDepth)
		if err != nil {
			t.Fatal(err)
		}
		st.ApplyBatch([]l2.Tx{{Type: l2.TxDeposit, From: 0, PubKey: l2.MLDSAPublicKey(pub), Amount: 100}}, l2.ApplyOptions{})
		tx := l2.Tx{Type: l2.TxWithdrawMLDSA, From: 0, Address: [20]byte{1}, Amount: 10}
		sig, err := l2.SignMLDSA(key, c.chain, &tx)
		if err != nil {
			t.Fatal(err)
		}
		after := st.Clone()
		res := after.ApplyBatch([]l2.Tx{tx}, l2.ApplyOptions{})
		rec := tx.Encode()
		j := &checkJob{number: 1, start: Position{1, 0}, end: Position{2, 0}, data: rec[:], sigs: [][]byte{sig},
			trace: res.PostRoots, pos: []Position{{1, 0}}}
		keys := l2.KeyMap{}
		if c.known {
			keys.Add(pub)
		}
		cc := newCrossCheck(nil, keys, 7, 1, slog.New(slog.DiscardHandler), func(error) {})
		cc.state, cc.at = st, j.start
		err = cc.check(j)
		if c.fails != (err != nil) || (c.fails && !errors.Is(err, ErrCrossCheck)) {
			t.Fatalf("%s: check: %v", c.name, err)
		}
	}
}
