package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

func (a *app) guardianCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guardian",
		Short: "Pause and unpause the rollup with k-of-n guardian signatures; watch and pause automatically",
		Long: `A rollup's guardians (ML-DSA-65 keys in its L1 config) pause and unpause it with a
transaction carrying at least threshold of their signatures over the action at the rollup's
guardian nonce. Across machines: each guardian runs "guardian sign" (offline with --nonce) and
sends its file; anyone runs "guardian combine" and "guardian submit" (any funded L1 key pays).
With enough guardian keys on one machine, "guardian pause|unpause" does all three, and
"guardian watch" pauses on its own when a configured condition is seen (docs/wallet.md).`,
	}
	cmd.AddCommand(a.guardianStatusCommand(), a.guardianSignCommand(), a.guardianCombineCommand(), a.guardianSubmitCommand(),
		a.guardianNowCommand("pause"), a.guardianNowCommand("unpause"), a.guardianWatchCommand())
	return cmd
}

type guardianJSON struct {
	Index   int            `json:"index"`
	Address common.Address `json:"address"`
}

type guardianStatusJSON struct {
	Rollup         uint64         `json:"rollup"`
	Paused         bool           `json:"paused"`
	Frozen         bool           `json:"frozen"`
	GuardianNonce  uint64         `json:"guardianNonce"`
	Threshold      uint64         `json:"threshold"`
	Guardians      []guardianJSON `json:"guardians"`
	DelayedPending uint64         `json:"delayedPending"`
	DelayedAmount  uint64         `json:"delayedAmount"`
	// PendingActivateAt is the activation height of a queued config change (0: none).
	PendingActivateAt uint64 `json:"pendingConfigActivateAt,omitempty"`
}

func (a *app) guardianStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether the rollup is paused, its guardians, threshold and guardian nonce",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withRollup(cmd, nil, func(_ context.Context, _ *l1client.Client, r *l1api.Rollup) error {
				out := guardianStatusJSON{Rollup: r.ID, Paused: r.Paused, Frozen: r.Frozen, GuardianNonce: r.GuardianNonce,
					Threshold: r.Config.GuardianThreshold, Guardians: []guardianJSON{}, DelayedPending: r.DelayedPending, DelayedAmount: r.DelayedAmount}
				if r.Pending != nil {
					out.PendingActivateAt = r.Pending.ActivateAt
				}
				for i, g := range r.Config.Guardians {
					pk, err := pqkey.ParsePublicKey(g)
					if err != nil {
						return fmt.Errorf("guardian %d of rollup %d: %w", i, r.ID, err)
					}
					out.Guardians = append(out.Guardians, guardianJSON{i, pk.Address()})
				}
				return a.print(out, func(p *printer) {
					state := "running"
					if r.Paused {
						state = "PAUSED by its guardians"
					}
					if r.Frozen {
						state += ", frozen (exodus)"
					}
					p.line("rollup %d: %s; guardian nonce %d", r.ID, state, r.GuardianNonce)
					p.line("guardians: %d of %d sign an action", out.Threshold, len(out.Guardians))
					for _, g := range out.Guardians {
						p.line("  %d  %s", g.Index, g.Address.Hex())
					}
					p.line("delay queue: %d withdrawals waiting, %d in all", r.DelayedPending, r.DelayedAmount)
					if pc := r.Pending; pc != nil {
						p.line("config change %x queued at height %d, applies at height %d: %s", pc.Hash, pc.QueuedAt, pc.ActivateAt,
							describeRollupConfig(&pc.Config))
					}
				})
			})
		},
	}
}

// guardianKeyFlags name the guardian keys a command signs with.
type guardianKeyFlags struct{ keys, shares []string }

func (f *guardianKeyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "guardian-key", nil, "a guardian's L1 keystore: a name in the wallet, or a keystore file's path (repeat for several)")
	cmd.Flags().StringArrayVar(&f.shares, "guardian-shares", nil, "share files of one guardian key, comma-separated, recombined in memory (repeat for several keys)")
}

func (a *app) guardianSignCommand() *cobra.Command {
	var (
		kf    guardianKeyFlags
		rf    rotateFlags
		nonce int64
		out   string
	)
	cmd := &cobra.Command{
		Use:   "sign pause|unpause|rotate --guardian-key NAME --out FILE [--nonce N]",
		Short: "Sign a pause, unpause or config change (rotate) with one guardian key into a file (offline with --nonce or --from)",
		Long: `Sign the action at the rollup's guardian nonce with one guardian key and write the signature
file. With --nonce nothing is read from L1 (the machine may be offline): take the nonce from
"pqwallet guardian status". A signature is valid for that nonce only: once any action is sent
the nonce moves on and older signatures are refused.

rotate proposes a new rollup config: the first guardian gives the changes (--sequencer,
--vk-hash, --guardian-pubkey, --threshold) to the config in force, read from L1; the others sign
that proposal offline with --from its file. Combined and submitted like a pause, it is queued
on L1 and applies after a timelock (docs/l1.md §6).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := guardianAction{L1ChainID: a.cfg.l1ChainID, Rollup: a.cfg.rollupID, Action: args[0], Nonce: uint64(nonce)}
			if g.Action == actionRotate {
				if err := a.rotateProposal(cmd, &rf, &g, nonce >= 0); err != nil {
					return err
				}
			} else if _, err := parseAction(g.Action); err != nil {
				return err
			}
			if nonce < 0 && g.Action != actionRotate {
				err := a.withRollup(cmd, nil, func(_ context.Context, _ *l1client.Client, r *l1api.Rollup) error {
					g.Nonce = r.GuardianNonce
					return nil
				})
				if err != nil {
					return fmt.Errorf("reading the guardian nonce from L1 (give --nonce to sign offline): %w", err)
				}
			}
			keys, err := a.guardianKeys(kf.keys, kf.shares)
			if err != nil {
				return err
			}
			if len(keys) != 1 {
				return fmt.Errorf("sign takes one guardian key, %d given: each guardian signs its own file", len(keys))
			}
			s, err := g.sign(keys[0])
			if err != nil {
				return err
			}
			f := guardianFile{Format: guardianSigFormat, guardianAction: g, Signatures: []guardianSig{s}}
			if err := writeGuardianFile(out, &f); err != nil {
				return err
			}
			return a.print(map[string]any{"file": out, "signer": keys[0].Address(), "action": g}, func(p *printer) {
				p.line("signed %s as guardian %s", g, keys[0].Address().Hex())
				if g.Action == actionRotate {
					p.line("proposed config: %s", describeConfig(&g))
				}
				p.line("signature file %s: send it to whoever combines the signatures", out)
			})
		},
	}
	kf.add(cmd)
	rf.add(cmd)
	cmd.Flags().Int64Var(&nonce, "nonce", -1, "the rollup's guardian nonce to sign at (default: read from L1)")
	cmd.Flags().StringVar(&out, "out", "", "signature file to write")
	cmd.MarkFlagRequired("out")
	return cmd
}

func writeGuardianFile(path string, f *guardianFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return keystore.WriteFile(path, append(b, '\n'))
}

func (a *app) guardianCombineCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "combine FILE... --out FILE",
		Short: "Combine guardian signature files of one action into an action file (offline)",
		Long: `Check every signature file (same chain, rollup, action and nonce; each signature verifies)
and write them as one action file for "guardian submit". Repeated signers count once; whether
they are guardians and reach the threshold is checked against L1 by submit.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadGuardianFiles(args)
			if err != nil {
				return err
			}
			if err := writeGuardianFile(out, f); err != nil {
				return err
			}
			return a.print(map[string]any{"file": out, "signatures": len(f.Signatures), "action": f.guardianAction}, func(p *printer) {
				p.line("%d signatures of %s combined into %s", len(f.Signatures), f.guardianAction, out)
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "action file to write")
	cmd.MarkFlagRequired("out")
	return cmd
}

func (a *app) guardianSubmitCommand() *cobra.Command {
	var (
		l1Key string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   "submit FILE...",
		Short: "Send a guardian action from its signature or action files (any funded L1 key pays)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadGuardianFiles(args)
			if err != nil {
				return err
			}
			return a.submitGuardian(cmd, l1Key, f, wait)
		},
	}
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key paying the transaction (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the action to be in an L1 block, up to --timeout")
	return cmd
}

// submitGuardian checks the action against the rollup and sends it, paid by l1Key.
func (a *app) submitGuardian(cmd *cobra.Command, l1Key string, f *guardianFile, wait bool) error {
	key, err := a.unlockDefaultL1(l1Key)
	if err != nil {
		return err
	}
	return a.withRollup(cmd, key, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
		return a.sendGuardian(ctx, c, key, r, f, wait)
	})
}

func (a *app) sendGuardian(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, r *l1api.Rollup, f *guardianFile, wait bool) error {
	typ, p, err := f.payload(r, a.cfg.l1ChainID)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("guardian %s of rollup %d with %d of %d guardian signatures (nonce %d)", f.Action, r.ID, len(f.Signatures),
		len(r.Config.Guardians), f.Nonce)
	if typ == l1api.TxConfigChange {
		summary += fmt.Sprintf(": the new config applies %d blocks after its block (the timelock)", l1api.ConfigTimelock(&r.Config))
	}
	return a.sendL1(ctx, c, key, l1Tx{typ: typ, payload: p,
		details: map[string]any{"rollup": r.ID, "action": f.Action, "guardianNonce": f.Nonce, "signatures": len(f.Signatures)},
		summary: summary}, wait)
}

// guardianNowCommand signs with every local guardian key and submits at once.
func (a *app) guardianNowCommand(action string) *cobra.Command {
	var (
		kf    guardianKeyFlags
		l1Key string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   action + " --guardian-key NAME... [--guardian-shares FILES...]",
		Short: "Sign " + action + " with the guardian keys held here and send it (sign + combine + submit)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := a.guardianKeys(kf.keys, kf.shares)
			if err != nil {
				return err
			}
			payer, err := a.unlockDefaultL1(l1Key)
			if err != nil {
				return err
			}
			return a.withRollup(cmd, payer, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				f, err := signAll(guardianAction{L1ChainID: a.cfg.l1ChainID, Rollup: r.ID, Action: action, Nonce: r.GuardianNonce}, keys)
				if err != nil {
					return err
				}
				return a.sendGuardian(ctx, c, payer, r, f, wait)
			})
		},
	}
	kf.add(cmd)
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key paying the transaction (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the action to be in an L1 block, up to --timeout")
	return cmd
}

func signAll(g guardianAction, keys []*pqkey.PrivateKey) (*guardianFile, error) {
	f := &guardianFile{Format: guardianActionFormat, guardianAction: g}
	for _, k := range keys {
		s, err := g.sign(k)
		if err != nil {
			return nil, err
		}
		if !f.has(s.PublicKey) {
			f.Signatures = append(f.Signatures, s)
		}
	}
	return f, nil
}
