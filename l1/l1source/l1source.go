// Package l1source adapts the native L1 node to what the sequencer reads from L1: its rollup's
// deposit queue (sequencer.DepositSource). It sits between l1 and l2/sequencer so that the
// sequencer needs neither the settlement engine nor an L1 client, and the dependency between
// settlement and the sequencer runs one way (settlement reads the sequencer's blocks).
package l1source

import (
	"context"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// L1 is the native L1 node as the adapter reads it: *l1client.Client over QUIC, or node.Local
// in process (node.Node.Local).
type L1 interface {
	Deposit(ctx context.Context, rollupID, index uint64) (*l1api.DepositEntry, error)
}

// Deposits is the deposit queue of rollup RollupID on the native L1: the sequencer's
// DepositSource (queue entries by index).
type Deposits struct {
	L1       L1
	RollupID uint64
}

var _ sequencer.DepositSource = Deposits{}

// Deposits implements sequencer.DepositSource: up to max entries from index from, fewer at the
// end of the queue. An entry whose key is not a canonical field element is an error naming it.
func (d Deposits) Deposits(ctx context.Context, from uint64, max int) ([]sequencer.Deposit, error) {
	var out []sequencer.Deposit
	for j := from; len(out) < max; j++ {
		e, err := d.L1.Deposit(ctx, d.RollupID, j)
		if errors.Is(err, l1api.ErrNotFound) {
			break
		}
		if err != nil {
			return out, err
		}
		var pk l2.PublicKey
		if err := errors.Join(canonical(&pk.X, e.PKX), canonical(&pk.Y, e.PKY)); err != nil {
			return out, fmt.Errorf("l1source: deposit %d of rollup %d: %w", j, d.RollupID, err)
		}
		out = append(out, sequencer.Deposit{QueueIndex: j, PubKey: pk, Amount: e.Amount, Depositor: e.Depositor})
	}
	return out, nil
}

func canonical(dst *fr.Element, b [32]byte) error {
	if err := dst.SetBytesCanonical(b[:]); err != nil {
		return fmt.Errorf("non-canonical field element: %w", err)
	}
	return nil
}
