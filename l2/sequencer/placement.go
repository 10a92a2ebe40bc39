package sequencer

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/pqbridge/pqbridge/l2"
)

// pkDigest keys the deposit placement index; a collision only adds a candidate account (the
// placement checks the account's key).
func pkDigest(pk l2.PublicKey) uint64 {
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	return digest(x[:], y[:])
}

// digest mixes the low 8 bytes of the canonical forms of pk.x and pk.y.
func digest(x, y []byte) uint64 {
	return binary.BigEndian.Uint64(x[24:32]) ^ binary.BigEndian.Uint64(y[24:32])<<1
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
// every account holding a key is in byKey, and no index below nextFresh is free. The caller
// holds chainState.mu.
func (s *Sequencer) placeDeposits(deps []Deposit, data []byte) ([]byte, error) {
	overlay := make(map[uint32]l2.Account)
	for _, d := range deps {
		idx, acc, found, err := s.existingPlacement(d, overlay)
		if err != nil {
			return nil, err
		}
		if !found {
			if s.chain.place.nextFresh >= uint64(1)<<s.cfg.Depth {
				s.log.Warn("deposit refunded: state tree full", "queue_index", d.QueueIndex, "amount", d.Amount)
				tx := l2.Tx{Type: l2.TxRefund, Amount: d.Amount, PubKey: d.PubKey, Address: d.Depositor}
				data = l2.AppendTx(data, &tx)
				continue
			}
			idx = uint32(s.chain.place.nextFresh)
			acc = l2.Account{PubKey: d.PubKey}
			s.chain.place.created(pkDigest(d.PubKey), idx)
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
	for _, idx := range s.chain.place.byKey[pkDigest(d.PubKey)] {
		acc, ok := overlay[idx]
		if !ok {
			a, exists, err := s.chain.exec.Account(idx)
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
