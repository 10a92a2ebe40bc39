package sequencer

import (
	"encoding/binary"
	"fmt"

	"github.com/pqbridge/pqbridge/l2"
	"golang.org/x/crypto/sha3"
)

// Key space of the sequencer's pebble database. Integers are big-endian so that keys sort in
// numeric order.
var (
	keyGenesis   = []byte("m/genesis") // chain ID u64 | depth u8: guards against a wrong data dir
	prefixBlock  = []byte("b/")        // b/<number> -> header | batch data (interleaved) | trace
	prefixRcpt   = []byte("r/")        // r/<tx hash> -> receipt
	prefixWAL    = []byte("w/")        // w/<seq> -> record (| ML-DSA signature): acknowledged, not yet in a block
	prefixDevDep = []byte("d/")        // d/<queue index> -> pk.x | pk.y | amount (| ML-DSA key): dev deposit queue
)

func u64Key(prefix []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), n)
}

// Header is a block header. Block numbers start at 1; block 1's parent hash is zero and its
// previous root the genesis root Z[depth].
type Header struct {
	Number         uint64
	ParentHash     [32]byte
	PrevRoot       [32]byte
	PostRoot       [32]byte
	TraceRoot      [32]byte // list_root of the post-roots of this block's transactions (§8.2)
	WithdrawalRoot [32]byte // §8.3
	DepositStart   uint64   // L1 deposit queue range [DepositStart, DepositEnd): the block's first
	DepositEnd     uint64   // DepositEnd-DepositStart transactions, in queue order
	TxCount        uint32
	Time           uint64   // unix milliseconds when the block was built
	TxsHash        [32]byte // keccak256 of the records: binds the data to Hash (w2 binds each signature; not §8.5's data_hash)
}

const headerSize = 8 + 32*5 + 8 + 8 + 4 + 8 + 32

func (h *Header) encode() []byte {
	b := make([]byte, 0, headerSize)
	b = binary.BigEndian.AppendUint64(b, h.Number)
	for _, w := range [][32]byte{h.ParentHash, h.PrevRoot, h.PostRoot, h.TraceRoot, h.WithdrawalRoot} {
		b = append(b, w[:]...)
	}
	b = binary.BigEndian.AppendUint64(b, h.DepositStart)
	b = binary.BigEndian.AppendUint64(b, h.DepositEnd)
	b = binary.BigEndian.AppendUint32(b, h.TxCount)
	b = binary.BigEndian.AppendUint64(b, h.Time)
	return append(b, h.TxsHash[:]...)
}

func decodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) != headerSize {
		return h, fmt.Errorf("sequencer: header of %d bytes, want %d", len(b), headerSize)
	}
	h.Number = binary.BigEndian.Uint64(b)
	p := b[8:]
	for _, w := range []*[32]byte{&h.ParentHash, &h.PrevRoot, &h.PostRoot, &h.TraceRoot, &h.WithdrawalRoot} {
		copy(w[:], p[:32])
		p = p[32:]
	}
	h.DepositStart = binary.BigEndian.Uint64(p)
	h.DepositEnd = binary.BigEndian.Uint64(p[8:])
	h.TxCount = binary.BigEndian.Uint32(p[16:])
	h.Time = binary.BigEndian.Uint64(p[20:])
	copy(h.TxsHash[:], p[28:60])
	return h, nil
}

// Hash is keccak256 of the header's fixed binary encoding.
func (h *Header) Hash() [32]byte { return keccak(h.encode()) }

func keccak(b []byte) (out [32]byte) {
	k := sha3.NewLegacyKeccak256()
	k.Write(b)
	k.Sum(out[:0])
	return out
}

// TxHash is the API identifier of a transaction: keccak256 of its canonical 160 bytes. It is
// not part of the protocol (docs/protocol.md hashes field elements only).
func TxHash(raw []byte) [32]byte { return keccak(raw) }

// Block is a stored block: its header, batch data (only transactions with status ok) and trace.
type Block struct {
	Header Header
	// Data is the block's records, l2.TxSize bytes each: what the executor runs and the
	// commitment covers (docs/protocol.md §8.5).
	Data []byte
	// Sigs holds the ML-DSA-65 signature of each record of type 5/6 and nil for the others; nil
	// when the block has none. BatchData interleaves them with Data (docs §5.4).
	Sigs [][]byte
	// Trace is the post root of each transaction of Data, 32 bytes each (docs/protocol.md
	// §8.2), as the executor computed it when the block was built: settlement commits to it
	// without executing the block again. nil for a block stored before traces were kept
	// (settlement refuses such a block: docs/sequencer.md, "Trace").
	Trace []byte
}

// PostRoot is trace entry k: the state root after the block's transaction k.
func (b *Block) PostRoot(k int) (r [32]byte) {
	copy(r[:], b.Trace[32*k:32*k+32])
	return r
}

// Sig is the signature of record k (nil for a record not of type 5/6).
func (b *Block) Sig(k int) []byte {
	if b.Sigs == nil {
		return nil
	}
	return b.Sigs[k]
}

// BatchData is the block's batch data in its interleaved form (docs §5.4): each record,
// followed by its signature for a type 5/6.
func (b *Block) BatchData() []byte { return batchData(b.Data, b.Sigs) }

// batchData interleaves records and sigs (nil: no signature); both come from the executor's
// block or a decoded one, so they match (l2.JoinBatchData's checks hold).
func batchData(data []byte, sigs [][]byte) []byte {
	if sigs == nil {
		return data
	}
	out := make([]byte, 0, len(data)+len(sigs)*l2.MLDSASigSize)
	for k := range sigs {
		out = append(append(out, data[k*l2.TxSize:(k+1)*l2.TxSize]...), sigs[k]...)
	}
	return out
}

// encodeBlock is a block's stored value: header | batch data (interleaved) | trace.
func encodeBlock(h *Header, data []byte, sigs [][]byte, trace []byte) []byte {
	bd := batchData(data, sigs)
	v := make([]byte, 0, headerSize+len(bd)+len(trace))
	return append(append(append(v, h.encode()...), bd...), trace...)
}

// decodeBlock reads encodeBlock's value; a value of header | data only (a block stored before
// traces were kept) gives a nil Trace. The batch data is read record by record: a type 5/6
// record is followed by its signature. A block is not a batch: it may hold more ML-DSA
// transactions than one batch takes (the settlement engine cuts them apart).
func decodeBlock(v []byte) (*Block, error) {
	if len(v) < headerSize {
		return nil, fmt.Errorf("sequencer: block value of %d bytes", len(v))
	}
	h, err := decodeHeader(v[:headerSize])
	if err != nil {
		return nil, err
	}
	rest, n := v[headerSize:], int(h.TxCount)
	b := &Block{Header: h}
	size, k := 0, 0
	for ; k < n && size+l2.TxSize <= len(rest); k++ {
		rec := rest[size : size+l2.TxSize]
		size += l2.TxSize
		if !l2.TxType(rec[7]).MLDSA() {
			continue
		}
		if b.Sigs == nil {
			b.Sigs = make([][]byte, n)
		}
		if size+l2.MLDSASigSize > len(rest) {
			break
		}
		b.Sigs[k] = rest[size : size+l2.MLDSASigSize : size+l2.MLDSASigSize]
		size += l2.MLDSASigSize
	}
	if extra := len(rest) - size; k < n || (extra != 0 && extra != 32*n) {
		return nil, fmt.Errorf("sequencer: block %d: %d bytes after the header for %d transactions", h.Number, len(rest), n)
	} else if extra != 0 {
		b.Trace = rest[size:]
	}
	if b.Sigs == nil {
		b.Data = rest[:size]
		return b, nil
	}
	b.Data = make([]byte, 0, n*l2.TxSize)
	for off, k := 0, 0; k < n; k++ {
		b.Data = append(b.Data, rest[off:off+l2.TxSize]...)
		off += l2.TxSize + len(b.Sigs[k])
	}
	return b, nil
}

// receipt is the stored outcome of a user transaction.
type receipt struct {
	Included bool
	Block    uint64 // the block that included it, or the block being built when it was dropped
	Position uint32 // index within the block's batch data (Included only)
	Status   string // a docs §7.1 status name, or "evicted"
}

func (r *receipt) encode() []byte {
	b := make([]byte, 0, 14+len(r.Status))
	if r.Included {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, r.Block)
	b = binary.BigEndian.AppendUint32(b, r.Position)
	return append(b, r.Status...)
}

func decodeReceipt(b []byte) (receipt, error) {
	if len(b) < 13 {
		return receipt{}, fmt.Errorf("sequencer: receipt of %d bytes", len(b))
	}
	return receipt{Included: b[0] == 1, Block: binary.BigEndian.Uint64(b[1:]), Position: binary.BigEndian.Uint32(b[9:]), Status: string(b[13:])}, nil
}
