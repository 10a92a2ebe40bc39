// Package l1source adapts the native L1 node to what the sequencer reads from L1: its rollup's
// deposit queue (sequencer.DepositSource). It sits between l1 and l2/sequencer so that the
// sequencer needs neither the settlement engine nor an L1 client, and the dependency between
// settlement and the sequencer runs one way (settlement reads the sequencer's blocks).
package l1source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// L1 is the native L1 node as the adapter reads it: *l1client.Client over QUIC, or node.Local
// in process (node.Node.Local).
type L1 interface {
	Deposit(ctx context.Context, rollupID, index uint64) (*l1api.DepositEntry, error)
	// L2Key is the ML-DSA-65 key a deposit registered for the key hash kh (l1_l2Key;
	// l1api.ErrNotFound if none did).
	L2Key(ctx context.Context, rollupID uint64, kh [32]byte) ([]byte, error)
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
// An entry to an ML-DSA account (PKX = 0) carries the account's ML-DSA-65 key, read from L1's
// registry (l1_l2Key), so that the sequencer verifies the account's transactions.
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
		dep := sequencer.Deposit{QueueIndex: j, PubKey: pk, Amount: e.Amount, Depositor: e.Depositor}
		if l2.IsMLDSAKey(pk) {
			pub, err := d.L1.L2Key(ctx, d.RollupID, e.PKY)
			switch {
			case errors.Is(err, l1api.ErrNotFound):
				// L1 registers the key of every deposit to (0, kh): never. The sequencer asks
				// Config.Keys when a transaction needs it.
			case err != nil:
				return out, fmt.Errorf("l1source: deposit %d of rollup %d: ML-DSA key %x: %w", j, d.RollupID, e.PKY, err)
			default:
				dep.MLDSAKey = pub
			}
		}
		out = append(out, dep)
	}
	return out, nil
}

// Keys is rollup RollupID's ML-DSA key registry on L1 as an l2.KeyBook (the sequencer's
// Config.Keys): each lookup is one l1_l2Key query, bounded by Timeout (0: 5 s). A failure other
// than an unknown key is logged and reported as an unknown key.
type Keys struct {
	L1       L1
	RollupID uint64
	Timeout  time.Duration
	Log      *slog.Logger
}

var _ l2.KeyBook = Keys{}

// MLDSAKey implements l2.KeyBook.
func (k Keys) MLDSAKey(kh fr.Element) ([]byte, bool) {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pub, err := k.L1.L2Key(ctx, k.RollupID, kh.Bytes())
	if err != nil {
		if !errors.Is(err, l1api.ErrNotFound) && k.Log != nil {
			k.Log.Warn("ML-DSA key lookup on L1 failed", "err", err, "rollup", k.RollupID, "kh", fmt.Sprintf("%x", kh.Bytes()))
		}
		return nil, false
	}
	return pub, true
}

func canonical(dst *fr.Element, b [32]byte) error {
	if err := dst.SetBytesCanonical(b[:]); err != nil {
		return fmt.Errorf("non-canonical field element: %w", err)
	}
	return nil
}
