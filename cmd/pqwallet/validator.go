package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/valset"
)

// The validator commands: an L1 key joins the staked validator set of a chain under CometBFT,
// changes its stake or leaves (L1 transactions 12–14, applied at the next epoch boundary), and
// anyone reads the set's proven state (docs/wallet.md, "Validators"; docs/l1.md §5).

func (a *app) validatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validator",
		Short: "Join, restake or leave the L1 validator set, and show it",
		Long: `An L1 chain run by a CometBFT validator set (pql1node -consensus cometbft) takes joins, stake
changes and leaves as L1 transactions from the validator's L1 (ML-DSA-65) key; they take effect
at the next epoch boundary, and CometBFT uses the new set two heights later. Withdrawn stake
unbonds for one more epoch. "validator status" reads the proven validator state (it needs
--l1-validators).`,
	}
	cmd.AddCommand(a.validatorJoinCommand(), a.validatorStakeCommand(), a.validatorLeaveCommand(), a.validatorStatusCommand())
	return cmd
}

// validatorTx signs and sends a validator transaction from the L1 key named l1Key.
func (a *app) validatorTx(cmd *cobra.Command, l1Key string, tx l1Tx, wait bool) error {
	key, err := a.unlockDefaultL1(l1Key)
	if err != nil {
		return err
	}
	ctx, cancel := a.withTimeout(cmd)
	defer cancel()
	c, err := a.l1Client(ctx, key)
	if err != nil {
		return err
	}
	defer c.Close()
	return a.sendL1(ctx, c, key, tx, wait)
}

func (a *app) validatorJoinCommand() *cobra.Command {
	var (
		stake        uint64
		consensusKey string
		l1Key        string
		wait         bool
	)
	cmd := &cobra.Command{
		Use:   "join --stake N --consensus-key FILE|HEX",
		Short: "Join the validator set with stake N moved from the L1 key's balance",
		Long: `Join the validator set: N is locked from the L1 key's balance (at least the chain's minimum
stake; a validator may not hold more than a third of the next set's stake). --consensus-key is
the validator's CometBFT Ed25519 public key in hex (pql1node logs it as consensus_key), or the
file pql1node reads with -consensus-key-file, whose key is derived the same way.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consensusKey == "" {
				return errors.New("--consensus-key: give the validator's CometBFT public key (hex) or pql1node's -consensus-key-file")
			}
			ck, err := consensusPublicKey(consensusKey)
			if err != nil {
				return err
			}
			if stake == 0 {
				return errors.New("--stake: give the stake to lock, above 0")
			}
			return a.validatorTx(cmd, l1Key, l1Tx{typ: l1api.TxValidatorJoin, payload: &l1api.ValidatorJoin{ConsensusKey: ck, Stake: stake},
				details: map[string]any{"stake": stake, "consensusKey": hex.EncodeToString(ck)},
				summary: fmt.Sprintf("validator join with stake %d, consensus key %x (in the set from the next epoch boundary)", stake, ck)}, wait)
		},
	}
	cmd.Flags().Uint64Var(&stake, "stake", 0, "the stake to lock from the L1 key's balance")
	cmd.Flags().StringVar(&consensusKey, "consensus-key", "", "CometBFT Ed25519 public key in hex, or pql1node's -consensus-key-file")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the validator's L1 key (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the transaction to be in an L1 block, up to --timeout")
	return cmd
}

func (a *app) validatorStakeCommand() *cobra.Command {
	var (
		add, withdraw uint64
		l1Key         string
		wait          bool
	)
	cmd := &cobra.Command{
		Use:   "stake (--add N | --withdraw N)",
		Short: "Add to the validator's stake, or withdraw part of it",
		Long: `Change the stake from the next epoch boundary: --add locks N more from the L1 key's balance,
--withdraw lowers it by N (never below the chain's minimum stake: leave instead); withdrawn
stake unbonds for one more epoch and then returns to the balance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := &l1api.ValidatorStake{Amount: add}
			verb := "add"
			if withdraw != 0 {
				p, verb = &l1api.ValidatorStake{Amount: withdraw, Withdraw: true}, "withdraw"
			}
			if p.Amount == 0 {
				return fmt.Errorf("--%s: give an amount above 0", verb)
			}
			return a.validatorTx(cmd, l1Key, l1Tx{typ: l1api.TxValidatorStake, payload: p,
				details: map[string]any{verb: p.Amount},
				summary: fmt.Sprintf("validator stake: %s %d (from the next epoch boundary)", verb, p.Amount)}, wait)
		},
	}
	cmd.Flags().Uint64Var(&add, "add", 0, "stake to lock from the L1 key's balance")
	cmd.Flags().Uint64Var(&withdraw, "withdraw", 0, "stake to unbond")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the validator's L1 key (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the transaction to be in an L1 block, up to --timeout")
	cmd.MarkFlagsOneRequired("add", "withdraw")
	cmd.MarkFlagsMutuallyExclusive("add", "withdraw")
	return cmd
}

func (a *app) validatorLeaveCommand() *cobra.Command {
	var (
		l1Key string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   "leave",
		Short: "Leave the validator set at the next epoch boundary; the stake unbonds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.validatorTx(cmd, l1Key, l1Tx{typ: l1api.TxValidatorLeave, payload: &l1api.ValidatorLeave{},
				details: map[string]any{}, summary: "validator leave (out of the set from the next epoch boundary; the stake unbonds for one more epoch)"}, wait)
		},
	}
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the validator's L1 key (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the transaction to be in an L1 block, up to --timeout")
	return cmd
}

// consensusPublicKey is --consensus-key: an Ed25519 public key in hex, or pql1node's consensus
// seed file, from which the key is derived as pql1node derives it.
func consensusPublicKey(arg string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimSpace(arg), "0x")
	if b, err := hex.DecodeString(s); err == nil {
		if len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("--consensus-key: %d bytes of hex, an Ed25519 public key has %d", len(b), ed25519.PublicKeySize)
		}
		return b, nil
	}
	k, err := keystore.ReadSeedFile(arg)
	if err != nil {
		return nil, fmt.Errorf("--consensus-key %s: neither an Ed25519 public key in hex nor a consensus key file: %w", arg, err)
	}
	ck, _ := valset.ConsensusKeys(k.Seed())
	return ck.Public().(ed25519.PublicKey), nil
}

// validatorStatus is what "validator status" prints.
type validatorStatus struct {
	Height       uint64            `json:"height"`      // the certified height the state is proven at
	SetFrom      uint64            `json:"setFrom"`     // the set in force from this height
	SetHash      common.Hash       `json:"setHash"`     // its hash, as certificates name it
	EpochLength  uint64            `json:"epochLength"` // from --l1-validators
	NextBoundary uint64            `json:"nextBoundary"`
	ChangesFrom  uint64            `json:"changesFrom"` // the height the pending changes take effect (CometBFT: boundary+2)
	Validators   []validatorRecord `json:"validators"`
	Unbonding    []l1api.Unbonding `json:"unbonding"`
}

type validatorRecord struct {
	Address common.Address `json:"address"`
	Stake   uint64         `json:"stake"`  // in force (0: not in the set yet)
	Bonded  uint64         `json:"bonded"` // locked, slashable
	Next    uint64         `json:"next"`   // from the next boundary (0: leaves)
	Jailed  bool           `json:"jailed"` // slashed for double signing
	Pending string         `json:"pending,omitempty"`
}

func (a *app) validatorStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status [ADDRESS]",
		Short: "Show the validator set in force, pending changes, the next boundary and each stake",
		Long: `Reads the validator state proven at the newest certified height (state proofs under a quorum
certificate of the set the wallet follows from --l1-validators): the set in force, each
validator's stake in force, bonded and from the next boundary, jailed (slashed) validators,
stake unbonding, and the next epoch boundary (the epoch length is --l1-validators'
epochLength). With ADDRESS, only that validator.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var only *common.Address
			if len(args) == 1 {
				addr, err := a.l1Address(args[0])
				if err != nil {
					return err
				}
				only = &addr
			}
			if strings.TrimSpace(a.cfg.l1Validators) == "" {
				return errors.New("validator status reads the proven validator state: set --l1-validators to the validator-set JSON")
			}
			f, err := valset.Read(a.cfg.l1Validators)
			if err != nil {
				return fmt.Errorf("--l1-validators: %w", err)
			}
			ctx, cancel := a.withTimeout(cmd)
			defer cancel()
			c, err := a.l1Client(ctx, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			s, err := a.readValidatorStatus(ctx, c, f, only)
			if err != nil {
				return err
			}
			return a.print(s, func(p *printer) { s.human(p) })
		},
	}
}

// readValidatorStatus proves the validator state and shapes it (only: one validator).
func (a *app) readValidatorStatus(ctx context.Context, c *l1client.Client, f *valset.File, only *common.Address) (*validatorStatus, error) {
	st, h, err := c.Verified().ValidatorState(ctx)
	if err != nil {
		return nil, fmt.Errorf("validator state: %w", err)
	}
	set, from := c.TrustedSet()
	epoch := f.EpochLength
	if epoch == 0 {
		epoch = valset.DefaultEpochLength
	}
	next := (h/epoch + 1) * epoch
	s := &validatorStatus{Height: h, SetFrom: from, SetHash: set.Hash(), EpochLength: epoch, NextBoundary: next, ChangesFrom: next + 2,
		Validators: []validatorRecord{}, Unbonding: []l1api.Unbonding{}}
	for _, r := range st.Records {
		if only != nil && r.Address != *only {
			continue
		}
		v := validatorRecord{Address: r.Address, Stake: r.Power, Bonded: r.Bonded, Next: r.Next, Jailed: r.Jailed}
		switch {
		case r.Jailed:
			v.Pending = "jailed: leaves at the next boundary"
		case r.Power == 0 && r.Next > 0:
			v.Pending = fmt.Sprintf("joins with %d", r.Next)
		case r.Next == 0 && r.Power > 0:
			v.Pending = "leaves"
		case r.Next != r.Power:
			v.Pending = fmt.Sprintf("stake %d -> %d", r.Power, r.Next)
		}
		s.Validators = append(s.Validators, v)
	}
	for _, u := range st.Unbonding {
		if only == nil || u.Address == *only {
			s.Unbonding = append(s.Unbonding, u)
		}
	}
	if only != nil && len(s.Validators) == 0 && len(s.Unbonding) == 0 {
		return nil, fmt.Errorf("%s is not a validator and has no stake unbonding (proven at height %d)", only.Hex(), h)
	}
	return s, nil
}

func (s *validatorStatus) human(p *printer) {
	p.line("validator state proven at height %d; set %s in force from height %d", s.Height, s.SetHash.Hex(), s.SetFrom)
	p.line("next epoch boundary: height %d (epochs of %d); pending changes take effect from height %d", s.NextBoundary, s.EpochLength, s.ChangesFrom)
	for _, v := range s.Validators {
		line := fmt.Sprintf("%s stake %d, bonded %d, next %d", v.Address.Hex(), v.Stake, v.Bonded, v.Next)
		if v.Pending != "" {
			line += " (" + v.Pending + ")"
		}
		p.line("%s", line)
	}
	for _, u := range s.Unbonding {
		p.line("%s unbonding %d until height %d", u.Address.Hex(), u.Amount, u.ReleaseAt)
	}
}
