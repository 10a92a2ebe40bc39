package l2_test

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

func sampleTxs(t testing.TB) []l2.Tx {
	r := testRand(t)
	pk := l2.PublicKey{X: randElement(r), Y: randElement(r)}
	sig := l2.Signature{RX: randElement(r), RY: randElement(r), S: elem(12345)}
	addr := [20]byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0xee}
	return []l2.Tx{
		{Type: l2.TxNoop},
		{Type: l2.TxDeposit, From: math.MaxUint32, Amount: math.MaxUint64, PubKey: pk},
		{Type: l2.TxTransfer, From: 1, To: math.MaxUint32, Amount: 7, Nonce: math.MaxUint64, Sig: sig},
		{Type: l2.TxWithdraw, From: 0x01020304, Amount: 0x0506070809, Nonce: 3, Address: addr, Sig: sig},
	}
}

func TestWordsLayout(t *testing.T) {
	for _, tx := range sampleTxs(t) {
		w := tx.Words()
		// w0 = type·2^192 + from·2^160 + to·2^128 + amount·2^64 + nonce (docs §5.2)
		want := new(big.Int)
		for _, f := range []struct {
			v     uint64
			shift uint
		}{{uint64(tx.Type), 192}, {uint64(tx.From), 160}, {uint64(tx.To), 128}, {tx.Amount, 64}, {tx.Nonce, 0}} {
			want.Add(want, new(big.Int).Lsh(new(big.Int).SetUint64(f.v), f.shift))
		}
		var got big.Int
		w[0].BigInt(&got)
		if got.Cmp(want) != 0 {
			t.Errorf("%s: w0 = %x, want %x", tx.Type, &got, want)
		}
		var addr big.Int
		w[1].BigInt(&addr)
		if !bytes.Equal(addr.FillBytes(make([]byte, 20)), tx.Address[:]) {
			t.Errorf("%s: w1 = %x, want the address %x", tx.Type, &addr, tx.Address)
		}
		enc := tx.Encode()
		for i := range w {
			b := w[i].Bytes()
			if !bytes.Equal(enc[32*i:32*i+32], b[:]) {
				t.Errorf("%s: bytes of w%d differ from Encode", tx.Type, i)
			}
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	txs := sampleTxs(t)
	data := l2.EncodeBatch(txs)
	if len(data) != len(txs)*l2.TxSize {
		t.Fatalf("EncodeBatch: %d bytes", len(data))
	}
	got, err := l2.DecodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range txs {
		if !reflect.DeepEqual(got[i], txs[i]) {
			t.Errorf("record %d: decoded %+v, want %+v", i, got[i], txs[i])
		}
		if err := txs[i].Validate(); err != nil {
			t.Errorf("record %d: Validate: %v", i, err)
		}
	}
	if noop := txs[0].Encode(); noop != [l2.TxSize]byte{} {
		t.Errorf("a no-op is not 160 zero bytes")
	}
}

// put returns a copy of data with value written at offset.
func put(data []byte, offset int, value ...byte) []byte {
	out := bytes.Clone(data)
	copy(out[offset:], value)
	return out
}

func TestDecodeBatchStructuralErrors(t *testing.T) {
	txs := sampleTxs(t)
	valid := l2.EncodeBatch(txs) // noop, deposit, transfer, withdraw at records 0..3
	rec := func(i, offset int) int { return i*l2.TxSize + offset }
	p := fr.Modulus().FillBytes(make([]byte, 32))
	tests := []struct {
		name   string
		data   []byte
		want   error
		detail string // a part of the message: the record index and what was wrong
	}{
		{"empty", nil, l2.ErrMalformed, "empty batch"},
		{"empty, not nil", []byte{}, l2.ErrMalformed, "empty batch"},
		{"short record", valid[:159], l2.ErrMalformed, "not a multiple of 160"},
		{"trailing byte", append(bytes.Clone(valid), 0), l2.ErrMalformed, "not a multiple of 160"},
		{"4097 records", make([]byte, (l2.MaxBatchTxs+1)*l2.TxSize), l2.ErrBatchTooLarge, "4097 records"},
		{"4097 records with a partial one", make([]byte, (l2.MaxBatchTxs+1)*l2.TxSize+1), l2.ErrMalformed, "multiple"},
		{"w0 = p", put(valid, rec(0, 0), p...), l2.ErrNonCanonical, "record 0: non_canonical: w0"},
		{"w2 = p", put(valid, rec(1, 64), p...), l2.ErrNonCanonical, "record 1: non_canonical: w2"},
		{"w4 = 2^256-1", put(valid, rec(3, 128), bytes.Repeat([]byte{0xff}, 32)...), l2.ErrNonCanonical, "record 3: non_canonical: w4"},
		{"type 7", put(valid, rec(2, 7), 7), l2.ErrUnknownType, "record 2: unknown_type: type 7"},
		{"transfer_mldsa with w3", put(valid, rec(2, 7), 5), l2.ErrMalformed, "record 2: malformed: w3 and w4 of a transfer_mldsa"},
		{"reserved byte 0", put(valid, rec(1, 0), 1), l2.ErrMalformed, "record 1: malformed: reserved byte 0"},
		{"reserved byte 6", put(valid, rec(3, 6), 1), l2.ErrMalformed, "record 3: malformed: reserved byte 6"},
		{"noop with nonce", put(valid, rec(0, 31), 1), l2.ErrMalformed, "record 0: malformed: noop: w0"},
		{"noop with w1", put(valid, rec(0, 63), 1), l2.ErrMalformed, "record 0: malformed: w1 of a noop"},
		{"noop with w3", put(valid, rec(0, 100), 1), l2.ErrMalformed, "record 0: malformed: noop: w2..w4"},
		{"deposit with to", put(valid, rec(1, 12), 1), l2.ErrMalformed, "record 1: malformed: deposit: to"},
		{"deposit with nonce", put(valid, rec(1, 24), 1), l2.ErrMalformed, "record 1: malformed: deposit: nonce"},
		{"deposit with w4", put(valid, rec(1, 150), 1), l2.ErrMalformed, "record 1: malformed: w4 of a deposit"},
		{"transfer with w1", put(valid, rec(2, 40), 1), l2.ErrMalformed, "record 2: malformed: w1 of a transfer"},
		{"withdraw with to", put(valid, rec(3, 15), 1), l2.ErrMalformed, "record 3: malformed: withdraw: to"},
		{"withdraw address 2^160", put(valid, rec(3, 43), 1), l2.ErrMalformed, "record 3: malformed: withdraw address"},
		// One record with several faults: the first check of the §5.3 table that fails wins.
		{"non-canonical before type", put(put(valid, rec(2, 7), 9), rec(2, 64), p...), l2.ErrNonCanonical, "record 2"},
		{"type before reserved", put(valid, rec(2, 0), 1, 0, 0, 0, 0, 0, 0, 9), l2.ErrUnknownType, "record 2"},
		// Several faulty records: the first faulty record decides.
		{"first faulty record wins", put(put(valid, rec(1, 0), 1), rec(3, 64), p...), l2.ErrMalformed, "record 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txs, err := l2.DecodeBatch(tc.data)
			if !errors.Is(err, tc.want) || txs != nil {
				t.Fatalf("DecodeBatch = %d txs, %v; want %v", len(txs), err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("error %q does not say %q", err, tc.detail)
			}
			if _, err := l2.DataHash(tc.data); !errors.Is(err, tc.want) {
				t.Errorf("DataHash error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeTxLength(t *testing.T) {
	if _, err := l2.DecodeTx(make([]byte, l2.TxSize+1)); !errors.Is(err, l2.ErrMalformed) {
		t.Fatalf("DecodeTx of 161 bytes: %v", err)
	}
}

func TestDecodeBatchChecksSizeBeforeAllocating(t *testing.T) {
	huge := make([]byte, 1000*l2.TxSize*l2.MaxBatchTxs)
	// Bytes, not allocation counts: the error value's few small allocations vary with the race
	// detector, while decoding before the size check would allocate ~1 GB of records.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := l2.DecodeBatch(huge); !errors.Is(err, l2.ErrBatchTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / 10; perCall > 4096 {
		t.Errorf("DecodeBatch of an oversized batch allocated %d bytes per call", perCall)
	}
}

func TestValidate(t *testing.T) {
	var one fr.Element
	one.SetOne()
	tests := []struct {
		name string
		tx   l2.Tx
		want error
	}{
		{"unknown type", l2.Tx{Type: 7}, l2.ErrUnknownType},
		{"transfer_mldsa with EdDSA signature", l2.Tx{Type: l2.TxTransferMLDSA, Sig: l2.Signature{S: one}}, l2.ErrMalformed},
		{"withdraw_mldsa with key", l2.Tx{Type: l2.TxWithdrawMLDSA, PubKey: l2.PublicKey{Y: one}}, l2.ErrMalformed},
		{"withdraw_mldsa with to", l2.Tx{Type: l2.TxWithdrawMLDSA, To: 1}, l2.ErrMalformed},
		{"transfer with digest", l2.Tx{Type: l2.TxTransfer, SigDigest: one}, l2.ErrMalformed},
		{"deposit with digest", l2.Tx{Type: l2.TxDeposit, SigDigest: one}, l2.ErrMalformed},
		{"noop with from", l2.Tx{Type: l2.TxNoop, From: 1}, l2.ErrMalformed},
		{"noop with key", l2.Tx{Type: l2.TxNoop, PubKey: l2.PublicKey{X: one}}, l2.ErrMalformed},
		{"deposit with signature", l2.Tx{Type: l2.TxDeposit, Sig: l2.Signature{RY: one}}, l2.ErrMalformed},
		{"deposit with address", l2.Tx{Type: l2.TxDeposit, Address: [20]byte{1}}, l2.ErrMalformed},
		{"transfer with key", l2.Tx{Type: l2.TxTransfer, PubKey: l2.PublicKey{Y: one}}, l2.ErrMalformed},
		{"withdraw with key", l2.Tx{Type: l2.TxWithdraw, PubKey: l2.PublicKey{Y: one}}, l2.ErrMalformed},
		{"withdraw with to", l2.Tx{Type: l2.TxWithdraw, To: 1}, l2.ErrMalformed},
		{"refund with from", l2.Tx{Type: l2.TxRefund, From: 1}, l2.ErrMalformed},
		{"refund with signature", l2.Tx{Type: l2.TxRefund, Sig: l2.Signature{S: one}}, l2.ErrMalformed},
		{"deposit", l2.Tx{Type: l2.TxDeposit, From: 1, Amount: 2, PubKey: l2.PublicKey{X: one}}, nil},
		{"refund", l2.Tx{Type: l2.TxRefund, Amount: 2, Address: [20]byte{1}, PubKey: l2.PublicKey{X: one}}, nil},
		{"transfer", l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4, Sig: l2.Signature{S: one}}, nil},
	}
	for _, tc := range tests {
		if err := tc.tx.Validate(); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: Validate = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(l2.EncodeBatch(sampleTxs(f)))
	f.Add(make([]byte, l2.TxSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			if txs != nil {
				t.Fatal("transactions returned with an error")
			}
			return
		}
		if got := l2.EncodeBatch(txs); !bytes.Equal(got, data) {
			t.Fatalf("decode then encode is not the identity")
		}
	})
}
