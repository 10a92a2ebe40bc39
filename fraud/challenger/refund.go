package challenger

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

func hasRefund(txs []l2.Tx) bool {
	return slices.ContainsFunc(txs, func(tx l2.Tx) bool { return tx.Type == l2.TxRefund })
}

// refundProof proves refund k of a batch wrong (docs §11.3). Its witness needs the whole state
// before step k, which the partial states of stateBefore are not: the core is restored from
// snap (the state before the batch, taken only for batches holding a refund), steps 0 to k-1
// are applied, and the proof witnesses an account that can take the deposit (placeable), or any
// account if the refund is valid but its trace entry moved the root.
func (x *coreExecutor) refundProof(snap []byte, c *l2.Commitment, records []byte, txs []l2.Tx, trace []fr.Element, k int) (p *fraud.Proof, err error) {
	core, err := ffi.Restore(snap, 0)
	if err != nil {
		return nil, fmt.Errorf("challenger: restoring the state before batch %d: %w", c.BatchNumber, err)
	}
	defer func() { err = errors.Join(err, core.Close()) }()
	want := c.PrevRoot
	if k > 0 {
		var out ffi.BatchOutput
		if err := core.ApplyBatch(records[:k*l2.TxSize], &out); err != nil {
			return nil, fmt.Errorf("challenger: batch %d steps before refund %d: %w", c.BatchNumber, k, err)
		}
		want = trace[k-1]
	}
	if root, err := core.Root(); err != nil {
		return nil, err
	} else if root != want.Bytes() {
		return nil, fmt.Errorf("challenger: the state before refund %d of batch %d is not trace[%d]", k, c.BatchNumber, k-1)
	}
	j, err := placement(core, x.depth, &txs[k])
	if err != nil {
		return nil, err
	}
	w, err := core.Witness(j)
	if err != nil {
		return nil, err
	}
	aw, err := accountWitness(w)
	if err != nil {
		return nil, err
	}
	return fraud.StepProof(c, trace, k, []l2.AccountWitness{aw}), nil
}

// placement finds an index where refund tx's deposit could be placed in core's state (docs
// §7.2), or 0 if there is none. It scans the tree, which only a wrong refund costs.
func placement(core *ffi.Core, depth int, tx *l2.Tx) (uint32, error) {
	width := uint64(1) << depth
	count, err := core.AccountCount()
	if err != nil {
		return 0, err
	}
	x, y := tx.PubKey.X.Bytes(), tx.PubKey.Y.Bytes()
	for i := uint64(0); i < width; i++ {
		a, err := core.Account(uint32(i))
		if err != nil {
			return 0, err
		}
		if count < width && !a.Exists {
			return uint32(i), nil
		}
		if count == width && a.PubKeyX == x && a.PubKeyY == y && a.Balance <= math.MaxUint64-tx.Amount {
			return uint32(i), nil
		}
	}
	return 0, nil
}
