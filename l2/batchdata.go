package l2

import (
	"errors"
	"fmt"
)

// ErrSignatureUnavailable: a type 5/6 record whose signature in the batch data does not have
// the digest w2 (docs §8.5). L1 refuses such a batch at submission, so every signature a
// batch relies on is on L1.
var ErrSignatureUnavailable = errors.New("signature_unavailable")

// SplitBatchData splits batch data in its interleaved form (docs §5.4), where each type 5/6
// record is immediately followed by its MLDSASigSize-byte signature, into the records
// (concatenated, the form DecodeBatch and the core read) and the signatures, one per record, nil
// for a record of another type (the signatures alias data). Only byte 7 of each record (its
// type) is read; DecodeBatch checks the records themselves. The checks of the interleaved form,
// in order: empty data, or data that does not parse to the end as records each followed by its
// signature (a truncated record or signature), is malformed; then more than MaxBatchTxs records,
// or more than MaxBatchMLDSATxs records of type 5/6, is batch_too_large. So the length checks
// come before the counts, as in docs §5.3.
func SplitBatchData(data []byte) (records []byte, sigs [][]byte, err error) {
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%w: empty batch", ErrMalformed)
	}
	n, mldsa := 0, 0
	for off := 0; off < len(data); n++ {
		if len(data)-off < TxSize {
			return nil, nil, fmt.Errorf("%w: record %d: %d bytes left, a record is %d", ErrMalformed, n, len(data)-off, TxSize)
		}
		off += TxSize
		if !TxType(data[off-TxSize+7]).MLDSA() {
			continue
		}
		mldsa++
		if len(data)-off < MLDSASigSize {
			return nil, nil, fmt.Errorf("%w: record %d: truncated ML-DSA signature: %d bytes left, want %d", ErrMalformed, n, len(data)-off, MLDSASigSize)
		}
		off += MLDSASigSize
	}
	if n > MaxBatchTxs {
		return nil, nil, fmt.Errorf("%w: %d records, at most %d", ErrBatchTooLarge, n, MaxBatchTxs)
	}
	if mldsa > MaxBatchMLDSATxs {
		return nil, nil, fmt.Errorf("%w: %d ML-DSA records, at most %d", ErrBatchTooLarge, mldsa, MaxBatchMLDSATxs)
	}
	records = make([]byte, 0, n*TxSize)
	sigs = make([][]byte, n)
	for k, off := 0, 0; k < n; k++ {
		records = append(records, data[off:off+TxSize]...)
		off += TxSize
		if TxType(data[off-TxSize+7]).MLDSA() {
			sigs[k] = data[off : off+MLDSASigSize : off+MLDSASigSize]
			off += MLDSASigSize
		}
	}
	return records, sigs, nil
}

// JoinBatchData is the inverse of SplitBatchData: the interleaved batch data of records
// (concatenated TxSize-byte records) and sigs (one per record). A record of type 5/6 needs a
// signature of MLDSASigSize bytes; any other record none.
func JoinBatchData(records []byte, sigs [][]byte) ([]byte, error) {
	if len(records)%TxSize != 0 || len(records)/TxSize != len(sigs) {
		return nil, fmt.Errorf("l2: join batch data: %d bytes of records and %d signatures", len(records), len(sigs))
	}
	size := len(records)
	for _, s := range sigs {
		size += len(s)
	}
	data := make([]byte, 0, size)
	for k := range sigs {
		rec := records[k*TxSize : (k+1)*TxSize]
		switch mldsa := TxType(rec[7]).MLDSA(); {
		case mldsa && len(sigs[k]) != MLDSASigSize:
			return nil, fmt.Errorf("l2: join batch data: record %d (%s) has a signature of %d bytes, want %d", k, TxType(rec[7]), len(sigs[k]), MLDSASigSize)
		case !mldsa && len(sigs[k]) != 0:
			return nil, fmt.Errorf("l2: join batch data: record %d (%s) takes no signature", k, TxType(rec[7]))
		}
		data = append(data, rec...)
		data = append(data, sigs[k]...)
	}
	return data, nil
}

// EncodeBatchData is the interleaved batch data of txs (docs §5.4): each record, followed by
// its MLDSASig for a type 5/6. It fails if a type 5/6 has no MLDSASigSize-byte signature or
// another type has one.
func EncodeBatchData(txs []Tx) ([]byte, error) {
	sigs := make([][]byte, len(txs))
	for k := range txs {
		sigs[k] = txs[k].MLDSASig
	}
	return JoinBatchData(EncodeBatch(txs), sigs)
}

// DecodeBatchData decodes interleaved batch data with every structural check: SplitBatchData,
// then DecodeBatch on the records. It returns the transactions, each type 5/6 with its MLDSASig,
// and the signatures as SplitBatchData gives them.
func DecodeBatchData(data []byte) ([]Tx, [][]byte, error) {
	records, sigs, err := SplitBatchData(data)
	if err != nil {
		return nil, nil, err
	}
	txs, err := DecodeBatch(records)
	if err != nil {
		return nil, nil, err
	}
	for k := range txs {
		txs[k].MLDSASig = sigs[k]
	}
	return txs, sigs, nil
}

// CheckSignatureDigests is L1's availability check (docs §8.5): the signature after each type
// 5/6 record has the digest w2. txs and sigs are as DecodeBatchData returns them.
func CheckSignatureDigests(txs []Tx, sigs [][]byte) error {
	if len(txs) != len(sigs) {
		return fmt.Errorf("%w: %d transactions and %d signatures", ErrSignatureUnavailable, len(txs), len(sigs))
	}
	for k := range txs {
		if !txs[k].Type.MLDSA() {
			continue
		}
		if d := MLDSASigDigest(sigs[k]); len(sigs[k]) != MLDSASigSize || !d.Equal(&txs[k].SigDigest) {
			return fmt.Errorf("%w: record %d (%s): the signature's digest is not w2", ErrSignatureUnavailable, k, txs[k].Type)
		}
	}
	return nil
}
