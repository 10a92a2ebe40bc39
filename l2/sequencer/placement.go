package sequencer

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/pqbridge/pqbridge/l2"
)

// pkDigest keys the deposit placement index; a collision only sends a deposit to a fresh index
// (the placement checks the account's key).
func pkDigest(pk l2.PublicKey) uint64 {
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	return digest(x[:], y[:])
}

// digest mixes the low 8 bytes of the canonical forms of pk.x and pk.y.
func digest(x, y []byte) uint64 {
	return binary.BigEndian.Uint64(x[24:32]) ^ binary.BigEndian.Uint64(y[24:32])<<1
}

// placeDeposits chooses each deposit's account (docs §7.2): the depositor's existing account if
// the credit fits, otherwise the lowest index never used. The caller holds chainState.mu.
func (s *Sequencer) placeDeposits(deps []Deposit, data []byte) ([]byte, error) {
	c := &s.chain
	overlay := make(map[uint32]l2.Account)
	for _, d := range deps {
		idx, found := c.pkIndex[pkDigest(d.PubKey)]
		var acc l2.Account
		exists := false
		if found {
			if a, ok := overlay[idx]; ok {
				acc, exists = a, true
			} else if a, ok, err := c.exec.Account(idx); err == nil && ok {
				acc, exists = a, true
			}
		}
		if !exists || acc.PubKey != d.PubKey || acc.Balance > math.MaxUint64-d.Amount {
			if c.nextFresh >= uint64(1)<<s.cfg.Depth {
				return nil, fmt.Errorf("sequencer: state tree full: no index for deposit %d", d.QueueIndex)
			}
			idx = uint32(c.nextFresh)
			c.nextFresh++
			acc = l2.Account{PubKey: d.PubKey}
			c.pkIndex[pkDigest(d.PubKey)] = idx
		}
		acc.Balance += d.Amount
		overlay[idx] = acc
		tx := l2.Tx{Type: l2.TxDeposit, From: idx, Amount: d.Amount, PubKey: d.PubKey}
		data = l2.AppendTx(data, &tx)
	}
	return data, nil
}
