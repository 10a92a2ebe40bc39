package chain

import (
	"fmt"
	"math"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

// CompressBatch is l1api.CompressBatch.
func CompressBatch(data []byte) ([]byte, error) { return l1api.CompressBatch(data) }

// DecompressBatch is l1api.DecompressBatch.
func DecompressBatch(frame []byte) ([]byte, error) { return l1api.DecompressBatch(frame) }

func (x *executor) isSequencer(r *Rollup, a common.Address) bool {
	return slices.Contains(r.Config.Sequencers, a)
}

// dqAt is the deposit queue chain value dq[j].
func (x *executor) dqAt(r *Rollup, j uint64) ([32]byte, error) {
	if j == 0 {
		return [32]byte{}, nil
	}
	var d DepositEntry
	ok, err := x.load(keyDeposit(r.ID, j-1), &d)
	if err != nil {
		return d.Chain, err
	}
	if !ok {
		return d.Chain, fatal(fmt.Errorf("%w: deposit %d of rollup %d missing", ErrCorruptStore, j-1, r.ID))
	}
	return d.Chain, nil
}

func (x *executor) submitBatch(from common.Address, p *SubmitBatch) error {
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if r.Frozen {
		return fmt.Errorf("%w: %d since height %d", ErrFrozen, r.ID, r.FrozenAt)
	}
	if !x.isSequencer(r, from) {
		return fmt.Errorf("%w: %s, rollup %d", ErrNotSequencer, from, r.ID)
	}
	if p.Mode != ModeValidity && p.Mode != ModeOptimistic {
		return fmt.Errorf("%w: %d", ErrBadMode, p.Mode)
	}
	if p.Number != r.HeadNumber+1 {
		return fmt.Errorf("%w: got %d, next is %d", ErrBatchNumber, p.Number, r.HeadNumber+1)
	}
	if p.PrevRoot != r.HeadRoot {
		return fmt.Errorf("%w: batch %d starts from %x, head root is %x", ErrPrevRoot, p.Number, p.PrevRoot, r.HeadRoot)
	}
	if len(p.Proof) > MaxProofSize {
		return fmt.Errorf("%w: proof of %d bytes", ErrTxMalformed, len(p.Proof))
	}
	rec := BatchRecord{Number: p.Number, Mode: p.Mode, PrevRoot: p.PrevRoot, NewRoot: p.NewRoot,
		DepositsBefore: p.DepositsBefore, DepositsAfter: p.DepositsAfter, WithdrawalRoot: p.WithdrawalRoot,
		DataHash: p.DataHash, TraceRoot: p.TraceRoot, TxCount: p.TxCount, Submitter: from,
		SubmittedAt: x.height, ConsumedBefore: r.HeadConsumed}
	c, err := rec.Commitment(r.Config.L2ChainID)
	if err != nil {
		return err
	}
	data, err := DecompressBatch(p.Data)
	if err != nil {
		return err
	}
	records, sigs, err := l2.SplitBatchData(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBatchData, err)
	}
	txs, err := l2.DecodeBatch(records)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBatchData, err)
	}
	if uint64(len(txs)) != p.TxCount {
		return fmt.Errorf("%w: data holds %d transactions, commitment %d", ErrTxCount, len(txs), p.TxCount)
	}
	if p.Mode == ModeValidity && chunkCount(p.TxCount, r.Config.BatchSize) > l2.MaxChunks {
		return fmt.Errorf("%w: validity batch of %d transactions, at most %d chunks of the rollup's batch size %d", ErrTxCount, p.TxCount, l2.MaxChunks, r.Config.BatchSize)
	}
	if p.TxCount > l2.MaxBatchTxs {
		return fmt.Errorf("%w: optimistic batch of %d transactions, at most %d", ErrTxCount, p.TxCount, l2.MaxBatchTxs)
	}
	if err := checkBatchSignatures(p.Mode, txs, sigs); err != nil {
		return err
	}
	dh := l2.TxsDataHash(txs) // over the records only: each signature is bound by w2
	if !dh.Equal(&c.DataHash) {
		return fmt.Errorf("%w: data hashes to %x, commitment has %x", ErrDataHash, dh.Bytes(), p.DataHash)
	}
	if err := x.checkDeposits(r, &rec, txs); err != nil {
		return err
	}
	if err := checkReserves(r, &rec, txs); err != nil {
		return err
	}
	var trace []byte
	switch p.Mode {
	case ModeValidity:
		if err := x.verifyValidity(r, p, &c, txs); err != nil {
			return err
		}
		rec.FinalizeAt = x.height
	case ModeOptimistic:
		if trace, _, err = checkTrace(p.Trace, &c); err != nil {
			return err
		}
		if err := x.stake(r, from); err != nil {
			return err
		}
		if r.Config.ChallengeWindow > math.MaxUint64-x.height {
			return fmt.Errorf("%w: challenge window", ErrOverflow)
		}
		rec.FinalizeAt = x.height + r.Config.ChallengeWindow
	}
	x.o.putRLP(keyBatch(r.ID, p.Number), &rec)
	x.o.put(keyBatchData(r.ID, p.Number), slices.Clone(p.Data))
	if trace != nil {
		x.o.put(keyBatchTrace(r.ID, p.Number), trace)
	}
	r.HeadNumber, r.HeadRoot, r.HeadConsumed = rec.Number, rec.NewRoot, rec.ConsumedAfter
	reservesAccepted(r, &rec)
	x.emit(Event{Kind: EventBatchSubmitted, RollupID: r.ID, Number: rec.Number, Amount: uint64(rec.Mode),
		Address: from, Root: rec.NewRoot})
	if err := x.finalize(r); err != nil {
		return err
	}
	x.setRollup(r)
	return nil
}

// checkDeposits checks that the batch's deposit and refund transactions are, in order, the
// next entries of the queue (a refund paying the entry's depositor) and that its dq_before and dq_after are the queue's chain values around them,
// then the forced-inclusion rule: no entry left unconsumed may be older than the window. It
// sets rec.ConsumedAfter.
func (x *executor) checkDeposits(r *Rollup, rec *BatchRecord, txs []l2.Tx) error {
	before, err := x.dqAt(r, rec.ConsumedBefore)
	if err != nil {
		return err
	}
	if before != rec.DepositsBefore {
		return fmt.Errorf("%w: dq_before is not the chain at consumed index %d", ErrDepositMismatch, rec.ConsumedBefore)
	}
	j := rec.ConsumedBefore
	for k := range txs {
		tx := &txs[k]
		if !tx.Type.ConsumesDeposit() {
			continue
		}
		if j >= r.QueueLen {
			return fmt.Errorf("%w: transaction %d is a deposit beyond the queue (%d entries)", ErrDepositMismatch, k, r.QueueLen)
		}
		var d DepositEntry
		if ok, err := x.load(keyDeposit(r.ID, j), &d); err != nil {
			return err
		} else if !ok {
			return fatal(fmt.Errorf("%w: deposit %d of rollup %d missing", ErrCorruptStore, j, r.ID))
		}
		if d.Amount != tx.Amount || d.PKX != tx.PubKey.X.Bytes() || d.PKY != tx.PubKey.Y.Bytes() {
			return fmt.Errorf("%w: transaction %d is not queue entry %d", ErrDepositMismatch, k, j)
		}
		if tx.Type == l2.TxRefund && common.Address(tx.Address) != d.Depositor {
			return fmt.Errorf("%w: refund %d pays %x, not queue entry %d's depositor %x", ErrDepositMismatch, k, tx.Address, j, d.Depositor)
		}
		j++
	}
	after, err := x.dqAt(r, j)
	if err != nil {
		return err
	}
	if after != rec.DepositsAfter {
		return fmt.Errorf("%w: dq_after is not the chain at index %d", ErrDepositMismatch, j)
	}
	if j < r.QueueLen {
		var d DepositEntry
		if _, err := x.load(keyDeposit(r.ID, j), &d); err != nil {
			return err
		}
		if x.height-d.Height >= r.Config.ForcedInclusionWindow {
			return fmt.Errorf("%w: deposit %d queued at height %d, window %d, now %d", ErrForcedInclusion,
				j, d.Height, r.Config.ForcedInclusionWindow, x.height)
		}
	}
	rec.ConsumedAfter = j
	return nil
}

func (x *executor) lockBond(from common.Address, bond uint64) error {
	if bond == 0 {
		return nil
	}
	if err := x.debit(from, bond); err != nil {
		return fmt.Errorf("locking %d: %w", bond, err)
	}
	g, err := x.global()
	if err != nil {
		return err
	}
	g.Bonded += bond
	x.o.putRLP(keyGlobal(), &g)
	return nil
}

func (x *executor) challenge(from common.Address, p *Challenge) error {
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if r.Frozen {
		return fmt.Errorf("%w: %d since height %d", ErrFrozen, r.ID, r.FrozenAt)
	}
	if p.Batch <= r.FinalNumber || p.Batch > r.HeadNumber {
		return fmt.Errorf("%w: batch %d (finalized through %d, head %d)", ErrNotPending, p.Batch, r.FinalNumber, r.HeadNumber)
	}
	if len(p.Proof) > MaxFraudProofSize {
		return fmt.Errorf("%w: fraud proof of %d bytes, at most %d", ErrTxMalformed, len(p.Proof), MaxFraudProofSize)
	}
	var b BatchRecord
	if ok, err := x.load(keyBatch(r.ID, p.Batch), &b); err != nil {
		return err
	} else if !ok {
		return fatal(fmt.Errorf("%w: pending batch %d of rollup %d missing", ErrCorruptStore, p.Batch, r.ID))
	}
	if b.Mode != ModeOptimistic {
		return fmt.Errorf("%w: batch %d is a validity batch", ErrNotPending, p.Batch)
	}
	if x.c.cfg.Judge == nil {
		return ErrNoJudge
	}
	// The bond is taken before the judge runs: a challenger who cannot pay it costs no judge time.
	bond := r.Config.ChallengeBond
	if err := x.debit(from, bond); err != nil {
		return fmt.Errorf("challenge bond: %w", err)
	}
	frame, _, err := x.o.get(keyBatchData(r.ID, p.Batch))
	if err != nil {
		return fatal(err)
	}
	data, err := DecompressBatch(frame)
	if err != nil {
		return fatal(err) // checked at submission
	}
	c, err := b.Commitment(r.Config.L2ChainID)
	if err != nil {
		return fatal(err)
	}
	proven, err := x.c.cfg.Judge.Judge(&FraudCase{L2ChainID: r.Config.L2ChainID, TreeDepth: int(r.Config.TreeDepth),
		Commitment: c, Data: data, Proof: p.Proof})
	if err != nil {
		return forfeit(r.ID, p.Batch, bond, fmt.Errorf("%w: %w", ErrFraudNotProven, err))
	}
	if !proven {
		return forfeit(r.ID, p.Batch, bond, fmt.Errorf("%w: batch %d", ErrFraudNotProven, p.Batch))
	}
	if err := x.credit(from, bond); err != nil {
		return err
	}
	// The rollup's stake backs every pending batch: slashed once, half to the challenger.
	reward, err := x.slashStake(r, from)
	if err != nil {
		return err
	}
	// Revert the batch and every later one, newest first. A per-batch bond of a record stored
	// before the rollup stake is slashed for the fraudulent batch and returned for later ones.
	for n := r.HeadNumber; n >= p.Batch; n-- {
		var later BatchRecord
		if ok, err := x.load(keyBatch(r.ID, n), &later); err != nil {
			return err
		} else if !ok {
			return fatal(fmt.Errorf("%w: batch %d of rollup %d missing", ErrCorruptStore, n, r.ID))
		}
		if n == p.Batch {
			half := later.Bond / 2
			if err := x.releaseBond(from, later.Bond, half, later.Bond-half); err != nil {
				return err
			}
			x.emit(Event{Kind: EventChallengeUpheld, RollupID: r.ID, Number: n, Amount: reward + half, Address: from})
		} else if later.Bond > 0 {
			if err := x.releaseBond(later.Submitter, later.Bond, later.Bond, 0); err != nil {
				return err
			}
		}
		reservesReverted(r, &later)
		x.o.del(keyBatch(r.ID, n))
		x.o.del(keyBatchData(r.ID, n))
		x.o.del(keyBatchTrace(r.ID, n))
		x.emit(Event{Kind: EventBatchReverted, RollupID: r.ID, Number: n, Root: later.NewRoot})
	}
	r.HeadNumber, r.HeadRoot, r.HeadConsumed = b.Number-1, b.PrevRoot, b.ConsumedBefore
	x.setRollup(r)
	return nil
}

// ListWitness is l1api.ListWitness.
func ListWitness(leaves []fr.Element, k int) [][32]byte { return l1api.ListWitness(leaves, k) }
