package sequencer

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/l2"
)

// Deposit is one entry of the L1 deposit queue (docs/protocol.md §8.4). The sequencer chooses
// the L2 account it lands in (§7.2), or refunds it to Depositor when no account can take it
// (§7.6).
type Deposit struct {
	QueueIndex uint64
	PubKey     l2.PublicKey
	Amount     uint64
	Depositor  [20]byte // the L1 address that paid it; a dev deposit's is zero
}

// DepositSource is the L1 deposit queue as the sequencer sees it: settlement.NativeDeposits (the
// L1 node over QUIC or in process), MemoryDepositSource (tests), or the dev queue (Config.Dev,
// kept in the sequencer's own database).
type DepositSource interface {
	// Deposits returns up to max queue entries starting at queue index from, in queue order,
	// as far as they are known now (possibly none). Entries never change once returned.
	Deposits(ctx context.Context, from uint64, max int) ([]Deposit, error)
}

// MemoryDepositSource is an in-process deposit queue without an L1, for tests and embedding. It
// is safe for concurrent use. It is not durable.
type MemoryDepositSource struct {
	mu   sync.Mutex
	list []Deposit
}

// Add appends a deposit from the zero L1 address and returns its queue index.
func (m *MemoryDepositSource) Add(pk l2.PublicKey, amount uint64) uint64 {
	return m.AddFrom([20]byte{}, pk, amount)
}

// AddFrom appends a deposit paid by depositor and returns its queue index.
func (m *MemoryDepositSource) AddFrom(depositor [20]byte, pk l2.PublicKey, amount uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := uint64(len(m.list))
	m.list = append(m.list, Deposit{QueueIndex: i, PubKey: pk, Amount: amount, Depositor: depositor})
	return i
}

// Deposits implements DepositSource.
func (m *MemoryDepositSource) Deposits(_ context.Context, from uint64, max int) ([]Deposit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from >= uint64(len(m.list)) {
		return nil, nil
	}
	end := min(uint64(len(m.list)), from+uint64(max))
	return append([]Deposit(nil), m.list[from:end]...), nil
}

// devDeposits is the deposit queue of a dev sequencer (rollup_devDeposit): kept in the
// sequencer's database and synced before the call returns, so that a deposit survives a crash
// like the L1 queue it stands in for.
type devDeposits struct {
	mu   sync.Mutex
	db   *pebble.DB
	next uint64
}

func newDevDeposits(db *pebble.DB) (*devDeposits, error) {
	d := &devDeposits{db: db}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefixDevDep, UpperBound: prefixEnd(prefixDevDep)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if it.Last() {
		d.next = binary.BigEndian.Uint64(it.Key()[len(prefixDevDep):]) + 1
	}
	return d, it.Error()
}

func (d *devDeposits) add(pk l2.PublicKey, amount uint64) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	v := append(append(x[:], y[:]...), binary.BigEndian.AppendUint64(nil, amount)...)
	if err := d.db.Set(u64Key(prefixDevDep, d.next), v, pebble.Sync); err != nil {
		return 0, fmt.Errorf("sequencer: dev deposit: %w", err)
	}
	d.next++
	return d.next - 1, nil
}

func (d *devDeposits) Deposits(_ context.Context, from uint64, max int) ([]Deposit, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: u64Key(prefixDevDep, from), UpperBound: prefixEnd(prefixDevDep)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Deposit
	for it.First(); it.Valid() && len(out) < max; it.Next() {
		v := it.Value()
		dep := Deposit{QueueIndex: binary.BigEndian.Uint64(it.Key()[len(prefixDevDep):]), Amount: binary.BigEndian.Uint64(v[64:72])}
		dep.PubKey.X.SetBytes(v[:32])
		dep.PubKey.Y.SetBytes(v[32:64])
		if dep.QueueIndex != from+uint64(len(out)) {
			break // a gap cannot happen (indices are assigned in order under mu); stop at one anyway
		}
		out = append(out, dep)
	}
	return out, it.Error()
}

// placement is the sequencer's deposit placement index (docs §7.2): every index created for
// each key (by key digest), and the lowest index never used. Accounts are only created at
// nextFresh, so the indices below it are all taken.
type placement struct {
	byKey     map[uint64][]uint32
	nextFresh uint64
}

func newPlacement() placement { return placement{byKey: make(map[uint64][]uint32)} }

// created records an account created at idx for the key with the given digest.
func (p *placement) created(d uint64, idx uint32) {
	p.byKey[d] = append(p.byKey[d], idx)
	p.nextFresh = max(p.nextFresh, uint64(idx)+1)
}

// replayed records the accounts a stored block's deposits created; its first DepositEnd -
// DepositStart records consume the queue (deposits and refunds).
func (p *placement) replayed(b *Block) error {
	h := &b.Header
	for k := 0; k < int(h.DepositEnd-h.DepositStart); k++ {
		tx, err := l2.DecodeTx(b.Data[k*l2.TxSize : (k+1)*l2.TxSize])
		if err != nil || !tx.Type.ConsumesDeposit() {
			return fmt.Errorf("sequencer: block %d: record %d is not a deposit or a refund", h.Number, k)
		}
		if tx.Type == l2.TxDeposit {
			d := pkDigest(tx.PubKey)
			if !slices.Contains(p.byKey[d], tx.From) {
				p.created(d, tx.From)
			}
		}
	}
	return nil
}

// placeDeposits turns each deposit into its queue-consuming transaction (docs §7.2, §7.6): a
// deposit into an account that holds the key and can take the amount, else into the lowest
// index never used, else (a full tree) a refund to the depositor. It is exact, as a refund of a
// placeable deposit fails (deposit_placeable) and a deposit cannot be dropped from the queue:
// every account holding a key is in byKey, and no index below nextFresh is free.
func (s *Sequencer) placeDeposits(deps []Deposit, data []byte) ([]byte, error) {
	overlay := make(map[uint32]l2.Account)
	for _, d := range deps {
		idx, acc, found, err := s.existingPlacement(d, overlay)
		if err != nil {
			return nil, err
		}
		if !found {
			if s.place.nextFresh >= uint64(1)<<s.cfg.Depth {
				s.log.Warn("deposit refunded: state tree full", "queue_index", d.QueueIndex, "amount", d.Amount)
				tx := l2.Tx{Type: l2.TxRefund, Amount: d.Amount, PubKey: d.PubKey, Address: d.Depositor}
				data = l2.AppendTx(data, &tx)
				continue
			}
			idx = uint32(s.place.nextFresh)
			acc = l2.Account{PubKey: d.PubKey}
			s.place.created(pkDigest(d.PubKey), idx)
		}
		acc.Balance += d.Amount
		overlay[idx] = acc
		tx := l2.Tx{Type: l2.TxDeposit, From: idx, Amount: d.Amount, PubKey: d.PubKey}
		data = l2.AppendTx(data, &tx)
	}
	return data, nil
}

// existingPlacement finds an account that holds d's key and can take its amount, reading the
// block's earlier deposits from overlay.
func (s *Sequencer) existingPlacement(d Deposit, overlay map[uint32]l2.Account) (uint32, l2.Account, bool, error) {
	for _, idx := range s.place.byKey[pkDigest(d.PubKey)] {
		acc, ok := overlay[idx]
		if !ok {
			a, exists, err := s.exec.Account(idx)
			if err != nil {
				return 0, l2.Account{}, false, fmt.Errorf("sequencer: reading account %d to place deposit %d: %w", idx, d.QueueIndex, err)
			}
			if !exists {
				continue // a stale entry: impossible, as accounts are never removed
			}
			acc = a
		}
		if acc.PubKey == d.PubKey && acc.Balance <= math.MaxUint64-d.Amount {
			return idx, acc, true, nil
		}
	}
	return 0, l2.Account{}, false, nil
}
