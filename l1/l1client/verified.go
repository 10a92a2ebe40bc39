package l1client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// ErrProof is the error of a proven read whose state proof the client refuses: an entry for
// another key, a proof that does not lead to the certified app hash, or a value that does not
// decode. errors.Is also matches stateproof's reason.
var ErrProof = errors.New("l1client: state proof refused")

// Verified is the client's proven reads: each fetches the keys it needs with l1_proveState,
// verifies the certificate of the reply's height against the pinned set (ErrCertificate) and
// every entry's proof against the certified app hash (ErrProof), and only then decodes the
// value. It answers for the newest certified height (two or more blocks behind the head), the
// same for every key of one read. A client pinning one key instead of a set gets
// ErrNoValidatorSet: there is nothing to check a certificate against.
type Verified struct {
	c   *Client
	min uint64 // AtLeast: the lowest certified height to answer for
}

// Verified returns the proven reads of c.
func (c *Client) Verified() Verified { return Verified{c: c} }

// AtLeast returns reads that answer for a certified height of at least h: a read waits (up to
// ctx, polling every certifiedPoll) while the newest certified height is below h. A caller that
// saw something at the head at height h uses it so the proven read does not find it absent.
func (v Verified) AtLeast(h uint64) Verified { v.min = h; return v }

// certifiedPoll is how often AtLeast asks again for a newer certified height.
const certifiedPoll = 200 * time.Millisecond

// proven fetches keys at height (0: the newest certified one) and verifies the reply.
func (v Verified) proven(ctx context.Context, height uint64, keys ...[]byte) (*stateproof.Reply, error) {
	if v.c.cfg.Validators == nil {
		return nil, ErrNoValidatorSet
	}
	r, err := v.c.ProveState(ctx, height, keys)
	for err == nil && height == 0 && r.Height < v.min {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("l1client: waiting for a certified height of at least %d (newest %d): %w", v.min, r.Height, ctx.Err())
		case <-time.After(certifiedPoll):
		}
		r, err = v.c.ProveState(ctx, height, keys)
	}
	if err != nil {
		return nil, err
	}
	if height != 0 && r.Height != height {
		return nil, fmt.Errorf("%w: asked for height %d, the node answered %d", ErrCertificate, height, r.Height)
	}
	if len(r.Cert) == 0 {
		return nil, fmt.Errorf("%w: height %d comes without a certificate (a one-node chain?)", ErrCertificate, r.Height)
	}
	cert, err := qc.Decode(r.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: height %d: %w", ErrCertificate, r.Height, err)
	}
	if err := v.c.verifyCert(ctx, cert, r.Height, r.AppHash); err != nil {
		return nil, err
	}
	if err := r.VerifyEntries(keys); err != nil {
		return nil, fmt.Errorf("%w: height %d: %w", ErrProof, r.Height, err)
	}
	return r, nil
}

// decode decodes a verified entry's value into out; false when the key is absent.
func decode(r *stateproof.Reply, i int, out any) (bool, error) {
	e := &r.Entries[i]
	if !e.Present {
		return false, nil
	}
	if err := rlp.DecodeBytes(e.Value, out); err != nil {
		return false, fmt.Errorf("%w: height %d: value of key %x: %v", ErrProof, r.Height, e.Key, err)
	}
	return true, nil
}

// notFound is the error of a proven absence, like the node's.
func notFound(r *stateproof.Reply, what string, args ...any) error {
	return fmt.Errorf("%w: %s (proven absent at height %d)", l1api.ErrNotFound, fmt.Sprintf(what, args...), r.Height)
}

// provenValue reads one RLP value proven at the newest certified height; an absent key is
// l1api.ErrNotFound naming what.
func provenValue[T any](ctx context.Context, v Verified, key []byte, what string) (*T, error) {
	r, err := v.proven(ctx, 0, key)
	if err != nil {
		return nil, err
	}
	var out T
	ok, err := decode(r, 0, &out)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(r, "%s", what)
	}
	return &out, nil
}

// Account returns an L1 account (the zero account if it never received anything).
func (v Verified) Account(ctx context.Context, a common.Address) (l1api.Account, error) {
	var acct l1api.Account
	r, err := v.proven(ctx, 0, stateproof.AccountKey(a))
	if err != nil {
		return acct, err
	}
	_, err = decode(r, 0, &acct)
	return acct, err
}

// Rollup returns a registered rollup.
func (v Verified) Rollup(ctx context.Context, id uint64) (*l1api.Rollup, error) {
	return provenValue[l1api.Rollup](ctx, v, stateproof.RollupKey(id), fmt.Sprintf("rollup %d", id))
}

// Batch returns an accepted (pending or finalized) batch.
func (v Verified) Batch(ctx context.Context, rollupID, number uint64) (*l1api.BatchRecord, error) {
	return provenValue[l1api.BatchRecord](ctx, v, stateproof.BatchKey(rollupID, number),
		fmt.Sprintf("batch %d of rollup %d", number, rollupID))
}

// Deposit returns entry index of a rollup's deposit queue.
func (v Verified) Deposit(ctx context.Context, rollupID, index uint64) (*l1api.DepositEntry, error) {
	return provenValue[l1api.DepositEntry](ctx, v, stateproof.DepositKey(rollupID, index),
		fmt.Sprintf("deposit %d of rollup %d", index, rollupID))
}

// Exited reports whether L2 account index of a rollup has been paid by an exodus withdrawal
// (the rollup must exist, as for the node's l1_exited).
func (v Verified) Exited(ctx context.Context, rollupID uint64, index uint32) (bool, error) {
	r, err := v.proven(ctx, 0, stateproof.RollupKey(rollupID), stateproof.ExitKey(rollupID, index))
	if err != nil {
		return false, err
	}
	if !r.Entries[0].Present {
		return false, notFound(r, "rollup %d", rollupID)
	}
	return r.Entries[1].Present, nil
}

// Claimed reports whether entry index of batch number's withdrawal list has been paid: its
// claim accepted and, if the governor delayed it, released (as the node's l1_claimed). A batch
// that does not exist, or an index beyond its transactions, is l1api.ErrNotFound.
func (v Verified) Claimed(ctx context.Context, rollupID, number, index uint64) (bool, error) {
	s, err := v.Withdrawal(ctx, rollupID, number, index)
	if err != nil {
		return false, err
	}
	return s.Paid(), nil
}

// Withdrawal returns where entry index of batch number's withdrawal list stands (as the node's
// l1_delayed), with Claimed's l1api.ErrNotFound cases.
func (v Verified) Withdrawal(ctx context.Context, rollupID, number, index uint64) (*l1api.WithdrawalStatus, error) {
	r, err := v.proven(ctx, 0, stateproof.BatchKey(rollupID, number), stateproof.ClaimKey(rollupID, number, index),
		stateproof.ClaimDelayedKey(rollupID, number, index))
	if err != nil {
		return nil, err
	}
	var b l1api.BatchRecord
	if ok, err := decode(r, 0, &b); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFound(r, "batch %d of rollup %d", number, rollupID)
	}
	if index >= b.TxCount {
		return nil, fmt.Errorf("%w: withdrawal %d of batch %d of rollup %d, which has %d transactions (height %d)",
			l1api.ErrNotFound, index, number, rollupID, b.TxCount, r.Height)
	}
	s := &l1api.WithdrawalStatus{Claimed: r.Entries[1].Present}
	var id uint64
	if !s.Claimed {
		return s, nil
	} else if delayed, err := decode(r, 2, &id); err != nil || !delayed {
		return s, err // claimed and paid at once
	}
	// Delayed by the governor: its queue entry, read at the same height.
	d, err := v.proven(ctx, r.Height, stateproof.DelayedKey(rollupID, id))
	if err != nil {
		return nil, err
	}
	var dw l1api.DelayedWithdrawal
	if ok, err := decode(d, 0, &dw); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: height %d: claim delayed as %d, which is absent", ErrProof, r.Height, id)
	}
	s.Delayed, s.DelayedID, s.ReleaseAt, s.Reason = true, dw.ID, dw.ReleaseAt, dw.Reason
	s.Released, s.ReleasedAt, s.Amount, s.Recipient = dw.Released, dw.ReleasedAt, dw.Amount, dw.Recipient
	return s, nil
}

// ValidatorState returns the validator records and unbonding stake (s/validators) proven at the
// newest certified height, which it returns too; l1api.ErrNotFound on a chain without a
// validator set.
func (v Verified) ValidatorState(ctx context.Context) (*l1api.ValidatorState, uint64, error) {
	r, err := v.proven(ctx, 0, stateproof.ValidatorsKey())
	if err != nil {
		return nil, 0, err
	}
	var s l1api.ValidatorState
	if ok, err := decode(r, 0, &s); err != nil {
		return nil, 0, err
	} else if !ok {
		return nil, 0, notFound(r, "validator set")
	}
	return &s, r.Height, nil
}
