package sequencer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
	"golang.org/x/crypto/sha3"
)

// Key space of the sequencer's pebble database. Integers are big-endian so that keys sort in
// numeric order.
var (
	keyGenesis   = []byte("m/genesis") // chain ID u64 | depth u8: guards against a wrong data dir
	prefixBlock  = []byte("b/")        // b/<number> -> header | batch data
	prefixRcpt   = []byte("r/")        // r/<tx hash> -> receipt
	prefixWAL    = []byte("w/")        // w/<seq> -> 160-byte tx: acknowledged, not yet in a block
	prefixDevDep = []byte("d/")        // d/<queue index> -> pk.x | pk.y | amount (dev deposit queue)
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
	TxsHash        [32]byte // keccak256 of the batch data: binds the data to Hash (not §8.5's data_hash)
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

// Block is a stored block: its header and batch data (only transactions with status ok).
type Block struct {
	Header Header
	Data   []byte
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

// store is the sequencer's durable state: a pebble database for blocks, receipts, the
// transaction write-ahead log and the dev deposit queue, plus snapshot files next to it (a
// snapshot of a large state is tens of MB: a file written once is cheaper than a pebble value).
type store struct {
	dir string
	db  *pebble.DB
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sequencer: data dir: %w", err)
	}
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("sequencer: open pebble: %w", err)
	}
	return &store{dir: dir, db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) get(key []byte) ([]byte, bool, error) {
	v, c, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, c.Close()
}

// checkGenesis records the chain ID and depth on first use and refuses a data dir made for
// another chain.
func (s *store) checkGenesis(chainID uint64, depth int) error {
	want := append(binary.BigEndian.AppendUint64(nil, chainID), byte(depth))
	got, ok, err := s.get(keyGenesis)
	if err != nil {
		return err
	}
	if !ok {
		return s.db.Set(keyGenesis, want, pebble.Sync)
	}
	if string(got) != string(want) {
		return fmt.Errorf("sequencer: data dir belongs to chain %d depth %d, configured chain %d depth %d",
			binary.BigEndian.Uint64(got), got[8], chainID, depth)
	}
	return nil
}

func (s *store) block(n uint64) (*Block, error) {
	v, ok, err := s.get(u64Key(prefixBlock, n))
	if err != nil || !ok {
		return nil, err
	}
	h, err := decodeHeader(v[:headerSize])
	if err != nil {
		return nil, err
	}
	return &Block{Header: h, Data: v[headerSize:]}, nil
}

// lastBlock returns the highest stored block number (0: none).
func (s *store) lastBlock() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixBlock, UpperBound: prefixEnd(prefixBlock)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[len(prefixBlock):]), nil
}

func (s *store) receipt(hash [32]byte) (*receipt, error) {
	v, ok, err := s.get(append(append([]byte(nil), prefixRcpt...), hash[:]...))
	if err != nil || !ok {
		return nil, err
	}
	r, err := decodeReceipt(v)
	return &r, err
}

func rcptKey(hash [32]byte) []byte { return append(append([]byte(nil), prefixRcpt...), hash[:]...) }

// walEntries calls each for every WAL record in sequence order.
func (s *store) walEntries(each func(seq uint64, raw []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixWAL, UpperBound: prefixEnd(prefixWAL)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := each(binary.BigEndian.Uint64(it.Key()[len(prefixWAL):]), append([]byte(nil), it.Value()...)); err != nil {
			return err
		}
	}
	return it.Error()
}

func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	e[len(e)-1]++
	return e
}

// Snapshot files: snapshot-<block number>.bin, written to a temporary file, synced, renamed.
func (s *store) writeSnapshot(number uint64, img []byte) error {
	name := filepath.Join(s.dir, fmt.Sprintf("snapshot-%d.bin", number))
	f, err := os.Create(name + ".tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(img); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		return err
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	// Keep the newest two: the older one is a fallback if the newest turns out unreadable.
	nums, _ := s.snapshots()
	for i := 2; i < len(nums); i++ {
		os.Remove(filepath.Join(s.dir, fmt.Sprintf("snapshot-%d.bin", nums[i])))
	}
	return nil
}

// snapshots lists the block numbers of the snapshot files, newest first.
func (s *store) snapshots() ([]uint64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "snapshot-")
		if !ok || !strings.HasSuffix(n, ".bin") {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSuffix(n, ".bin"), 10, 64); err == nil {
			nums = append(nums, v)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
	return nums, nil
}

func (s *store) readSnapshot(number uint64) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.dir, fmt.Sprintf("snapshot-%d.bin", number)))
}

// quietLogger drops pebble's informational logs; errors still surface as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
