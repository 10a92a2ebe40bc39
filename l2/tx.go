package l2

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// TxType is the transaction type of docs §5.1, stored in byte 7 of the header word.
type TxType uint8

// Transaction types (docs §5.1).
const (
	TxNoop     TxType = 0
	TxDeposit  TxType = 1
	TxTransfer TxType = 2
	TxWithdraw TxType = 3
	TxRefund   TxType = 4
	// TxTransferMLDSA and TxWithdrawMLDSA are a transfer and a withdraw from an ML-DSA-65
	// account (docs §4.2): w2 is the digest of the signature, which follows the record in the
	// batch data (§5.4).
	TxTransferMLDSA TxType = 5
	TxWithdrawMLDSA TxType = 6
)

func (t TxType) String() string {
	switch t {
	case TxNoop:
		return "noop"
	case TxDeposit:
		return "deposit"
	case TxTransfer:
		return "transfer"
	case TxWithdraw:
		return "withdraw"
	case TxRefund:
		return "refund"
	case TxTransferMLDSA:
		return "transfer_mldsa"
	case TxWithdrawMLDSA:
		return "withdraw_mldsa"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ConsumesDeposit reports whether a transaction of type t is the next entry of the L1 deposit
// queue (docs §8.4): a deposit, or the refund of a deposit that cannot be placed (§7.6).
func (t TxType) ConsumesDeposit() bool { return t == TxDeposit || t == TxRefund }

// PaysOut reports whether a successful transaction of type t emits a withdrawal leaf (docs
// §8.3): a withdraw, or a refund.
func (t TxType) PaysOut() bool { return t == TxWithdraw || t == TxWithdrawMLDSA || t == TxRefund }

// MLDSA reports whether t is signed with ML-DSA-65 (types 5 and 6): its record is followed by
// the signature in batch data (docs §5.4).
func (t TxType) MLDSA() bool { return t == TxTransferMLDSA || t == TxWithdrawMLDSA }

// Signed reports whether t carries a sender's signature: a transfer or withdraw of either kind.
func (t TxType) Signed() bool {
	return t == TxTransfer || t == TxWithdraw || t == TxTransferMLDSA || t == TxWithdrawMLDSA
}

// IsTransfer reports whether t is a transfer of either kind (types 2 and 5).
func (t TxType) IsTransfer() bool { return t == TxTransfer || t == TxTransferMLDSA }

// IsWithdraw reports whether t is a withdraw of either kind (types 3 and 6).
func (t TxType) IsWithdraw() bool { return t == TxWithdraw || t == TxWithdrawMLDSA }

// PublicKey is an EdDSA public key in affine coordinates on gnark-crypto's BN254 twisted
// Edwards curve. The state does not validate it as a curve point (docs §4.1).
type PublicKey struct{ X, Y fr.Element }

// Signature is an EdDSA signature (R, S) as stored in batch data: S is the scalar, stored as the
// field element with the same value (it is below the subgroup order, hence below p).
type Signature struct {
	RX, RY fr.Element
	S      fr.Element
}

// Tx is a decoded L2 transaction. Which fields a type uses is fixed by docs §5.2; a Tx is
// structurally valid (see Validate) when every unused field is zero.
type Tx struct {
	Type     TxType
	From, To uint32 // From is the target account of a deposit; To is used by transfers only
	Amount   uint64
	Nonce    uint64    // transfer and withdraw
	Address  [20]byte  // withdraw: the L1 address, w1; refund: the deposit's L1 depositor
	PubKey   PublicKey // deposit and refund: the deposit's key, (w2, w3)
	Sig      Signature // transfer and withdraw: (w2, w3, w4)
	// SigDigest is w2 of types 5 and 6: MLDSASigDigest of the ML-DSA signature (docs §5.2).
	SigDigest fr.Element
	// MLDSASig is the ML-DSA-65 signature of a type 5/6 (MLDSASigSize bytes). It is not part of
	// the 160-byte record: it follows the record in batch data (docs §5.4). DecodeTx leaves it
	// nil; DecodeBatchData and SignMLDSA set it.
	MLDSASig []byte
}

// Errors of the structural checks of docs §5.3. Decoders wrap them with the record index and
// the reason; test with errors.Is.
var (
	ErrMalformed     = errors.New("malformed")
	ErrUnknownType   = errors.New("unknown_type")
	ErrNonCanonical  = errors.New("non_canonical")
	ErrBatchTooLarge = errors.New("batch_too_large")
)

// header builds w0 (docs §5.2): type·2^192 + from·2^160 + to·2^128 + amount·2^64 + nonce.
func (tx *Tx) header() (w [32]byte) {
	w[7] = byte(tx.Type)
	binary.BigEndian.PutUint32(w[8:12], tx.From)
	binary.BigEndian.PutUint32(w[12:16], tx.To)
	binary.BigEndian.PutUint64(w[16:24], tx.Amount)
	binary.BigEndian.PutUint64(w[24:32], tx.Nonce)
	return w
}

// Words returns the five field elements w0..w4 of docs §5.2. For a tx that fails Validate the
// fields a type cannot carry (the key of a non-deposit, the signature of a deposit) are dropped.
func (tx *Tx) Words() [5]fr.Element {
	var w [5]fr.Element
	h := tx.header()
	w[0].SetBytes(h[:]) // < 2^200 < p
	var a [32]byte
	copy(a[12:], tx.Address[:])
	w[1].SetBytes(a[:]) // < 2^160 < p
	switch {
	case tx.Type.ConsumesDeposit():
		w[2], w[3] = tx.PubKey.X, tx.PubKey.Y
	case tx.Type.MLDSA():
		w[2] = tx.SigDigest
	default:
		w[2], w[3], w[4] = tx.Sig.RX, tx.Sig.RY, tx.Sig.S
	}
	return w
}

// Encode returns the canonical 160-byte encoding of tx: the byte forms of w0..w4.
func (tx *Tx) Encode() [TxSize]byte {
	var b [TxSize]byte
	AppendTx(b[:0], tx)
	return b
}

// AppendTx appends the canonical encoding of tx to dst.
func AppendTx(dst []byte, tx *Tx) []byte {
	h := tx.header()
	dst = append(dst, h[:]...)
	var a [12]byte
	dst = append(dst, a[:]...)
	dst = append(dst, tx.Address[:]...)
	w := tx.Words()
	for i := 2; i < 5; i++ {
		b := w[i].Bytes()
		dst = append(dst, b[:]...)
	}
	return dst
}

// EncodeBatch returns the records of txs: their encodings concatenated, what DecodeBatch and
// the core read. It is the batch data when no transaction is of type 5/6; EncodeBatchData gives
// the interleaved batch data with their signatures (docs §5.4).
func EncodeBatch(txs []Tx) []byte {
	data := make([]byte, 0, len(txs)*TxSize)
	for i := range txs {
		data = AppendTx(data, &txs[i])
	}
	return data
}

// Validate reports whether tx is structurally valid, that is whether its encoding passes the
// checks of docs §5.3: a known type and every field the type does not use zero. (The reserved
// bytes, canonical words and the 160-bit address hold by construction of Tx.)
func (tx *Tx) Validate() error {
	var zeroPK PublicKey
	var zeroSig Signature
	var zeroAddr [20]byte
	unused := func(what string) error { return fmt.Errorf("%w: %s: %s must be zero", ErrMalformed, tx.Type, what) }
	switch tx.Type {
	case TxNoop:
		if tx.From != 0 || tx.To != 0 || tx.Amount != 0 || tx.Nonce != 0 {
			return unused("w0")
		}
		if tx.Address != zeroAddr {
			return unused("w1")
		}
		if tx.Sig != zeroSig || !tx.SigDigest.IsZero() {
			return unused("w2..w4")
		}
	case TxDeposit:
		if tx.To != 0 {
			return unused("to")
		}
		if tx.Nonce != 0 {
			return unused("nonce")
		}
		if tx.Address != zeroAddr {
			return unused("w1")
		}
		if tx.Sig != zeroSig || !tx.SigDigest.IsZero() {
			return unused("the signature")
		}
		return nil // the key is checked below for the other types only
	case TxRefund:
		if tx.From != 0 || tx.To != 0 || tx.Nonce != 0 {
			return unused("from, to and nonce")
		}
		if tx.Sig != zeroSig || !tx.SigDigest.IsZero() {
			return unused("the signature")
		}
		return nil
	case TxTransfer, TxTransferMLDSA:
		if tx.Address != zeroAddr {
			return unused("w1")
		}
	case TxWithdraw, TxWithdrawMLDSA:
		if tx.To != 0 {
			return unused("to")
		}
	default:
		return fmt.Errorf("%w: type %d", ErrUnknownType, uint8(tx.Type))
	}
	if tx.PubKey != zeroPK {
		return unused("the public key")
	}
	if tx.Type.MLDSA() && tx.Sig != zeroSig {
		return unused("the EdDSA signature (w3, w4)")
	}
	if !tx.Type.MLDSA() && !tx.SigDigest.IsZero() {
		return unused("the ML-DSA signature digest")
	}
	return nil
}

// DecodeTx decodes one 160-byte record with every check of docs §5.3, in the order of its
// table: canonical words, known type, then reserved bytes, unused fields and the address range.
func DecodeTx(b []byte) (Tx, error) {
	var tx Tx
	if len(b) != TxSize {
		return tx, fmt.Errorf("%w: record of %d bytes, want %d", ErrMalformed, len(b), TxSize)
	}
	var w [5]fr.Element
	for i := range w {
		if err := w[i].SetBytesCanonical(b[32*i : 32*i+32]); err != nil {
			return tx, fmt.Errorf("%w: w%d is not below the field modulus", ErrNonCanonical, i)
		}
	}
	h := b[:32]
	tx.Type = TxType(h[7])
	if tx.Type > TxWithdrawMLDSA {
		return tx, fmt.Errorf("%w: type %d", ErrUnknownType, h[7])
	}
	for i := 0; i < 7; i++ {
		if h[i] != 0 {
			return tx, fmt.Errorf("%w: reserved byte %d of w0 is %#x", ErrMalformed, i, h[i])
		}
	}
	tx.From = binary.BigEndian.Uint32(h[8:12])
	tx.To = binary.BigEndian.Uint32(h[12:16])
	tx.Amount = binary.BigEndian.Uint64(h[16:24])
	tx.Nonce = binary.BigEndian.Uint64(h[24:32])
	w1 := b[32:64]
	if tx.Type.PaysOut() {
		for i := 0; i < 12; i++ {
			if w1[i] != 0 {
				return tx, fmt.Errorf("%w: %s address w1 is not below 2^160", ErrMalformed, tx.Type)
			}
		}
		copy(tx.Address[:], w1[12:])
	} else if !w[1].IsZero() {
		return tx, fmt.Errorf("%w: w1 of a %s must be zero", ErrMalformed, tx.Type)
	}
	switch {
	case tx.Type.ConsumesDeposit():
		tx.PubKey = PublicKey{X: w[2], Y: w[3]}
		if !w[4].IsZero() {
			return tx, fmt.Errorf("%w: w4 of a %s must be zero", ErrMalformed, tx.Type)
		}
	case tx.Type.MLDSA():
		tx.SigDigest = w[2]
		if !w[3].IsZero() || !w[4].IsZero() {
			return tx, fmt.Errorf("%w: w3 and w4 of a %s must be zero", ErrMalformed, tx.Type)
		}
	default:
		tx.Sig = Signature{RX: w[2], RY: w[3], S: w[4]}
	}
	if err := tx.Validate(); err != nil {
		return tx, err
	}
	return tx, nil
}

// checkBatchSize applies the length checks of docs §5.3, before anything is allocated or
// decoded, in the order of its "Order" paragraph: empty data or a length that is not a multiple
// of TxSize is malformed (a batch has 1 to MaxBatchTxs transactions, docs §8), then the count.
// It returns the record count.
func checkBatchSize(data []byte) (int, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("%w: empty batch", ErrMalformed)
	}
	if len(data)%TxSize != 0 {
		return 0, fmt.Errorf("%w: batch data of %d bytes is not a multiple of %d", ErrMalformed, len(data), TxSize)
	}
	if n := len(data) / TxSize; n > MaxBatchTxs {
		return 0, fmt.Errorf("%w: %d records, at most %d", ErrBatchTooLarge, n, MaxBatchTxs)
	}
	return len(data) / TxSize, nil
}

// DecodeBatch decodes batch data with every check of docs §5.3, in the order of its "Order"
// paragraph: the length checks, then records in order, each with the checks of DecodeTx in its
// order. The first failure rejects the whole batch.
func DecodeBatch(data []byte) ([]Tx, error) {
	n, err := checkBatchSize(data)
	if err != nil {
		return nil, err
	}
	txs := make([]Tx, n)
	for i := range txs {
		if txs[i], err = DecodeTx(data[i*TxSize : (i+1)*TxSize]); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	return txs, nil
}
