package l1api

import (
	"bytes"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/klauspost/compress/zstd"
	"github.com/pqbridge/pqbridge/l2"
)

// CompressBatch is how a sequencer packs batch data for SubmitBatch.Data.
func CompressBatch(data []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("chain: zstd encoder: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil), nil
}

// DecompressBatch inflates a zstd frame of batch data, never producing more than
// MaxBatchDataSize bytes whatever the frame claims.
func DecompressBatch(frame []byte) ([]byte, error) {
	dec, err := zstd.NewReader(bytes.NewReader(frame), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(MaxBatchDataSize+1),
		zstd.WithDecoderMaxWindow(1<<23))
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrBatchData, err)
	}
	defer dec.Close()
	data, err := io.ReadAll(io.LimitReader(dec, MaxBatchDataSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrBatchData, err)
	}
	if len(data) > MaxBatchDataSize {
		return nil, fmt.Errorf("%w: decompresses beyond %d bytes", ErrBatchData, MaxBatchDataSize)
	}
	return data, nil
}

// Commitment reads the batch's commitment (docs/protocol.md §8.6) for the rollup's L2 chain ID:
// what a FraudCase carries and a challenger builds its proof against.
func (b *BatchRecord) Commitment(chainID uint64) (l2.Commitment, error) {
	c := l2.Commitment{ChainID: chainID, BatchNumber: b.Number, TxCount: b.TxCount}
	var err error
	read := func(name string, src [32]byte, dst *fr.Element) {
		if err != nil {
			return
		}
		if *dst, err = FieldElement(src); err != nil {
			err = fmt.Errorf("%w: %s: %v", ErrTxMalformed, name, err)
		}
	}
	read("prev root", b.PrevRoot, &c.PrevRoot)
	read("new root", b.NewRoot, &c.NewRoot)
	read("dq before", b.DepositsBefore, &c.DepositsBefore)
	read("dq after", b.DepositsAfter, &c.DepositsAfter)
	read("withdrawal root", b.WithdrawalRoot, &c.WithdrawalRoot)
	read("data hash", b.DataHash, &c.DataHash)
	read("trace root", b.TraceRoot, &c.TraceRoot)
	return c, err
}

// ListWitness is l2.ListWitness (the Merkle witness of position k in list_root(leaves),
// docs/protocol.md §8.1) in the 32-byte form ClaimWithdrawal.Siblings wants for a withdrawal
// tree. It panics if k ≥ l2.MaxBatchTxs or len(leaves) > l2.MaxBatchTxs.
func ListWitness(leaves []fr.Element, k int) [][32]byte {
	sib := l2.ListWitness(leaves, k)
	out := make([][32]byte, len(sib))
	for l := range sib {
		out[l] = sib[l].Bytes()
	}
	return out
}

// MaxChunkProofSize bounds each proof of a chunked validity batch (a Groth16 proof is a few
// hundred bytes), so that MaxChunks of them fit in MaxProofSize.
const MaxChunkProofSize = MaxProofSize / l2.MaxChunks

// SplitChunkProofs splits the proof of a chunked validity batch, the RLP list of exactly m
// strings of at most MaxChunkProofSize bytes, without copying. The whole proof is already
// bounded by MaxProofSize; the count and each size are checked before any proof is read.
func SplitChunkProofs(b []byte, m int) ([][]byte, error) {
	content, rest, err := rlp.SplitList(b)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("the proof of a batch of %d chunks is not an RLP list of chunk proofs", m)
	}
	n, err := rlp.CountValues(content)
	if err != nil {
		return nil, fmt.Errorf("chunk proof list: %v", err)
	}
	if n != m {
		return nil, fmt.Errorf("%d chunk proofs for %d chunks", n, m)
	}
	proofs := make([][]byte, m)
	for k := range proofs {
		var kind rlp.Kind
		if kind, proofs[k], content, err = rlp.Split(content); err != nil {
			return nil, fmt.Errorf("chunk %d: %v", k, err)
		}
		if kind == rlp.List || len(proofs[k]) > MaxChunkProofSize {
			return nil, fmt.Errorf("chunk %d: proof is a list or more than %d bytes", k, MaxChunkProofSize)
		}
	}
	return proofs, nil
}

// EncodeChunkProofs is the proof of a chunked validity batch: the RLP list of its chunk proofs,
// in chunk order (docs/l1.md §5).
func EncodeChunkProofs(proofs [][]byte) ([]byte, error) {
	return rlp.EncodeToBytes(proofs)
}

// FieldElement reads a canonical field element.
func FieldElement(b [32]byte) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(b[:]); err != nil {
		return e, fmt.Errorf("non-canonical field element: %w", err)
	}
	return e, nil
}
