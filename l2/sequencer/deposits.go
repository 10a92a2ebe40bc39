package sequencer

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

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
	// MLDSAKey is the ML-DSA-65 public key of a deposit to an ML-DSA account (PubKey is then
	// l2.MLDSAPublicKey(MLDSAKey)); nil for an EdDSA account. The sequencer keeps it, so that it
	// verifies the account's transactions (docs/protocol.md §4.2).
	MLDSAKey []byte
}

// DepositSource is the L1 deposit queue as the sequencer sees it: l1source.Deposits (the
// L1 node over QUIC or in process), MemoryDepositSource (tests), or the dev queue (Config.Dev,
// kept in the sequencer's own database).
type DepositSource interface {
	// Deposits returns up to max queue entries starting at queue index from, in queue order,
	// as far as they are known now (possibly none). Entries never change once returned. It is
	// called while building a block, so it must not wait on a network: pqsequencer puts
	// l1source.Deposits behind a feed that fetches ahead in the background.
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

// AddMLDSA appends a deposit to the ML-DSA-65 account of pub from the zero L1 address and
// returns its queue index.
func (m *MemoryDepositSource) AddMLDSA(pub []byte, amount uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := uint64(len(m.list))
	m.list = append(m.list, Deposit{QueueIndex: i, PubKey: l2.MLDSAPublicKey(pub), Amount: amount, MLDSAKey: pub})
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

// add stores dep (its queue index is assigned): pk.x | pk.y | amount (| ML-DSA key).
func (d *devDeposits) add(dep Deposit) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, y := dep.PubKey.X.Bytes(), dep.PubKey.Y.Bytes()
	v := append(append(x[:], y[:]...), binary.BigEndian.AppendUint64(nil, dep.Amount)...)
	v = append(v, dep.MLDSAKey...)
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
		if len(v) > 72 {
			dep.MLDSAKey = append([]byte(nil), v[72:]...)
		}
		if dep.QueueIndex != from+uint64(len(out)) {
			break // a gap cannot happen (indices are assigned in order under mu); stop at one anyway
		}
		out = append(out, dep)
	}
	return out, it.Error()
}
