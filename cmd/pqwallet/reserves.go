package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
)

func (a *app) reservesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reserves",
		Short: "Show the rollup's proof of reserves: its L1 escrow against what L2 owes",
		Long: `L1 checks after every block that the rollup's escrow equals the deposits no final batch
consumed, plus L2's supply at the last final root (deposits consumed minus withdrawals committed
by final batches, minus exodus payouts), plus the committed withdrawals nobody claimed yet, plus
the claims the governor holds in its delay queue (docs/l1.md, "Proof of reserves"). This shows
the figures and their derivation as L1 reports them (l1_reserves).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withRollup(cmd, nil, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				v, err := c.Reserves(ctx, r.ID)
				if err != nil {
					return err
				}
				return a.print(v, func(p *printer) {
					if !v.On {
						p.line("rollup %d: %s", v.RollupID, v.Derivation)
						return
					}
					verdict := "holds"
					if !v.Holds {
						verdict = "BROKEN (L1 halts on it)"
					}
					p.line("rollup %d reserves (final batch %d, head %d): the equation %s", v.RollupID, v.FinalNumber, v.HeadNumber, verdict)
					p.line("  escrow on L1              %d", v.Escrow)
					p.line("  unconsumed deposits       %d", v.Unconsumed)
					p.line("  L2 supply at final root   %d", v.Supply)
					p.line("  unclaimed withdrawals     %d", v.Unclaimed)
					p.line("  delay queue               %d (%d withdrawals)", v.Delayed, v.DelayedPending)
					p.line("  L2 supply at head root    %d (pending batches included)", v.HeadSupply)
					p.line("%s", v.Derivation)
				})
			})
		},
	}
}
