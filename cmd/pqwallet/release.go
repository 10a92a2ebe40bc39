package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// delayedLine says where a claim held in the delay queue stands and how to release it.
func delayedLine(d *l1api.WithdrawalStatus, batch uint64, index int) string {
	return fmt.Sprintf("delayed until height %d by the governor (%s, %d to %s, delay queue id %d); not paid yet: release it from that height with: pqwallet release --batch %d --index %d",
		d.ReleaseAt, d.Reason, d.Amount, d.Recipient.Hex(), d.DelayedID, batch, index)
}

// reportDelayed tells the user, after a claim's block, that the governor queued it instead of
// paying it (on stdout, or on stderr with --json so that the output stays one document).
func (a *app) reportDelayed(ctx context.Context, c *l1client.Client, rollupID, batch uint64, index int) error {
	st, err := c.Withdrawal(ctx, rollupID, batch, uint64(index))
	if err != nil {
		return err
	}
	if !st.Delayed || st.Released {
		return nil
	}
	line := fmt.Sprintf("withdrawal %d of batch %d: %s", index, batch, delayedLine(st, batch, index))
	if a.cfg.json {
		a.progress("%s", line)
	} else {
		(&printer{a.out}).line("%s", line)
	}
	return nil
}

func (a *app) releaseCommand() *cobra.Command {
	var (
		batchN uint64
		index  int
		txHash string
		l1Key  string
		wait   bool
	)
	cmd := &cobra.Command{
		Use:   "release (--tx HASH | --batch N --index K)",
		Short: "Pay a claimed withdrawal the governor delayed, once its delay has passed",
		Long: `A claim over the rollup's governor limits (a large withdrawal, the window cap, an anomalous
outflow) is not paid: L1 queues it until a height ("pqwallet status tx" and "claim" show
"delayed until height H"). From that height anyone may send the release, which pays the
recipient named in the withdrawal; L1 pays it once and refuses a second release. With --wait
the wallet first waits for the height.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withWithdrawal(cmd, l1Key, withdrawalRef{txHash: txHash, batch: batchN, index: index}, false, func(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, r *l1api.Rollup, batchN uint64, index int) error {
				st, err := c.Withdrawal(ctx, r.ID, batchN, uint64(index))
				if err != nil {
					return err
				}
				w := fmt.Sprintf("withdrawal %d of batch %d of rollup %d", index, batchN, r.ID)
				switch {
				case !st.Claimed:
					return fmt.Errorf("%s is not claimed: claim it first (%s)", w, claimCommandLine(batchN, index))
				case !st.Delayed:
					return fmt.Errorf("%s was paid by its claim; it was never delayed", w)
				case st.Released:
					return fmt.Errorf("%s was already released at height %d: %d paid to %s; L1 pays it once", w, st.ReleasedAt, st.Amount, st.Recipient.Hex())
				}
				if err := waitHeight(ctx, a, c, st.ReleaseAt, wait); err != nil {
					return fmt.Errorf("%s: %w", w, err)
				}
				return a.sendL1(ctx, c, key, l1Tx{typ: l1api.TxReleaseDelayed, payload: &l1api.ReleaseDelayed{RollupID: r.ID, ID: st.DelayedID},
					details: map[string]any{"rollup": r.ID, "batch": batchN, "index": index, "delayedId": st.DelayedID, "amount": st.Amount, "address": st.Recipient},
					summary: fmt.Sprintf("release delayed %s (queue id %d): %d to %s", w, st.DelayedID, st.Amount, st.Recipient.Hex())}, wait)
			})
		},
	}
	cmd.Flags().Uint64Var(&batchN, "batch", 0, "the L1 batch number holding the withdrawal")
	cmd.Flags().IntVar(&index, "index", 0, "the withdrawal's position in the batch")
	cmd.Flags().StringVar(&txHash, "tx", "", "the L2 withdraw's transaction hash, instead of --batch and --index")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key paying the transaction (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the release height and for the release to be in an L1 block, up to --timeout")
	cmd.MarkFlagsRequiredTogether("batch", "index")
	cmd.MarkFlagsOneRequired("tx", "batch")
	cmd.MarkFlagsMutuallyExclusive("tx", "batch")
	return cmd
}

// withdrawalRef names a withdrawal on the command line: --tx HASH, or --batch N --index K.
type withdrawalRef struct {
	txHash string
	batch  uint64
	index  int
}

// withWithdrawal unlocks the L1 key, connects to the rollup and resolves ref (with --tx, the
// sequencer names the batch and L1's data the position; wait waits for the withdraw to be in a
// batch on L1), then runs f: the one path of claim and release.
func (a *app) withWithdrawal(cmd *cobra.Command, l1Key string, ref withdrawalRef, wait bool,
	f func(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, r *l1api.Rollup, batch uint64, index int) error) error {
	var hash common.Hash
	if ref.txHash != "" {
		var err error
		if hash, err = parseTxHash(ref.txHash); err != nil {
			return err
		}
	}
	key, err := a.unlockDefaultL1(l1Key)
	if err != nil {
		return err
	}
	return a.withRollup(cmd, key, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
		batch, index := ref.batch, ref.index
		if ref.txHash != "" {
			tb, err := a.withdrawalOf(ctx, c, r, hash, wait)
			if err != nil {
				return err
			}
			batch, index = tb.rec.Number, tb.index
		}
		return f(ctx, c, key, r, batch, index)
	})
}

// waitHeight returns once L1's head is at least h-1 (a transaction sent now lands at h or
// later); without wait it fails naming the height instead.
func waitHeight(ctx context.Context, a *app, c *l1client.Client, h uint64, wait bool) error {
	announced := false
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if st.Height+1 >= h {
			return nil
		}
		if !wait {
			return fmt.Errorf("delayed until height %d, L1 is at %d: run again then (--wait waits)", h, st.Height)
		}
		if !announced {
			a.progress("delayed until height %d, L1 is at %d; waiting", h, st.Height)
			announced = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for L1 height %d: %w", h, ctx.Err())
		case <-t.C:
		}
	}
}
