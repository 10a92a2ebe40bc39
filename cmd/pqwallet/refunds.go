package main

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l2"
)

// depositRefundJSON is one refund of an unplaceable deposit (docs/protocol.md §7.6) paying one
// of the wallet's L1 keys: entry Index of batch Batch's withdrawal list.
type depositRefundJSON struct {
	Batch       uint64         `json:"batch"`
	Index       int            `json:"index"`
	Depositor   common.Address `json:"depositor"`
	Key         string         `json:"key"`
	Amount      uint64         `json:"amount"`
	L2PublicKey string         `json:"l2PublicKey"`
	Final       bool           `json:"final"`
	Claimed     bool           `json:"claimed"`
	// DelayedUntil is set while the governor holds the claimed refund in its delay queue.
	DelayedUntil *uint64 `json:"delayedUntil,omitempty"`
	delayed      *l1api.WithdrawalStatus
}

func (a *app) refundsCommand() *cobra.Command {
	var from uint64
	cmd := &cobra.Command{
		Use:   "refunds",
		Short: "List the refunds of the wallet's L1 keys' deposits that the L2 tree had no room for",
		Long: `List refunds of unplaceable deposits: when the L2 state tree is full, a deposit for a new key
cannot be credited, and the sequencer consumes it with a refund that pays the amount back to the
L1 address that deposited it (docs/protocol.md §7.6). A refund is an entry of its batch's
withdrawal list: once the batch is final, "pqwallet claim --batch N --index K" pays it, like any
withdrawal (anyone may claim it; the amount goes to the depositor).

The wallet reads every batch on L1 from --from-batch on (one query per batch) and lists the
refunds paying its L1 keys, with whether the batch is final and the refund claimed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := a.keysOfKind(keystore.KindL1)
			if err != nil {
				return err
			}
			if len(ks) == 0 {
				return fmt.Errorf("no L1 keys in %s: refunds are paid to the L1 address that deposited", a.keysDir())
			}
			keyOf := make(map[common.Address]namedKey, len(ks))
			for _, k := range ks {
				keyOf[k.Info.Public.Address] = k
			}
			return a.withRollup(cmd, nil, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				// r was read at the head: proven reads wait for a certified height at or above it.
				head, err := c.Status(ctx)
				if err != nil {
					return err
				}
				out, err := depositRefunds(ctx, c, a.funds(c, head.Height), r, max(from, 1), keyOf)
				if err != nil {
					return err
				}
				return a.print(out, func(p *printer) {
					if len(out) == 0 {
						p.line("no refunds of the wallet's deposits in batches %d..%d of rollup %d", max(from, 1), r.HeadNumber, r.ID)
						return
					}
					for _, d := range out {
						w := fmt.Sprintf("refund of %d to %s (key %s) for L2 key %s: entry %d of batch %d", d.Amount, d.Depositor.Hex(), d.Key,
							short(d.L2PublicKey), d.Index, d.Batch)
						switch {
						case d.delayed != nil:
							p.line("%s: %s", w, delayedLine(d.delayed, d.Batch, d.Index))
						case d.Claimed:
							p.line("%s: claimed", w)
						case d.Final:
							p.line("%s: not claimed; claim it with: %s", w, claimCommandLine(d.Batch, d.Index))
						default:
							p.line("%s: batch not final yet; once final: %s", w, claimCommandLine(d.Batch, d.Index))
						}
					}
				})
			})
		},
	}
	cmd.Flags().Uint64Var(&from, "from-batch", 1, "the first L1 batch to read")
	return cmd
}

// depositRefunds returns the refunds paying keyOf's addresses in batches from..head of r (read
// through c), whether each is paid read through funds (app.funds).
func depositRefunds(ctx context.Context, c *l1client.Client, funds fundsReads, r *l1api.Rollup, from uint64, keyOf map[common.Address]namedKey) ([]depositRefundJSON, error) {
	out := []depositRefundJSON{}
	for n := from; n <= r.HeadNumber; n++ {
		txs, err := batchTxs(ctx, c, r.ID, n)
		if err != nil {
			return nil, err
		}
		for k := range txs {
			tx := &txs[k]
			key, mine := keyOf[common.Address(tx.Address)]
			if tx.Type != l2.TxRefund || !mine {
				continue
			}
			d := depositRefundJSON{Batch: n, Index: k, Depositor: tx.Address, Key: key.Name, Amount: tx.Amount,
				L2PublicKey: pkHex(tx.PubKey), Final: n <= r.FinalNumber}
			if d.Final {
				st, err := funds.Withdrawal(ctx, r.ID, n, uint64(k))
				if err != nil {
					return nil, err
				}
				d.Claimed = st.Paid()
				if st.Delayed && !st.Released {
					d.delayed, d.DelayedUntil = st, &st.ReleaseAt
				}
			}
			out = append(out, d)
		}
	}
	return out, nil
}
