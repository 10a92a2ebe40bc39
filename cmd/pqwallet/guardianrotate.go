package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// rotateFlags describe a proposed config change (guardian sign rotate): either another
// guardian's file of the same proposal, or changes to the config in force read from L1.
type rotateFlags struct {
	from       string
	sequencers []string
	vkHash     string
	guardians  []string
	threshold  int64
}

func (f *rotateFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.from, "from", "", "rotate: sign the proposal of this signature or action file (offline)")
	cmd.Flags().StringArrayVar(&f.sequencers, "sequencer", nil, "rotate: the new sequencer set, one address each (repeat)")
	cmd.Flags().StringVar(&f.vkHash, "vk-hash", "", "rotate: the new verifying key hash (32 bytes hex)")
	cmd.Flags().StringArrayVar(&f.guardians, "guardian-pubkey", nil, "rotate: the new guardian set, one ML-DSA-65 public key in hex each (repeat)")
	cmd.Flags().Int64Var(&f.threshold, "threshold", -1, "rotate: the new guardian threshold")
}

// rotateProposal fills g's nonce and proposed config: from --from, or from the rollup's config
// in force and guardian nonce on L1 with the flags' changes applied (--nonce, when given, is
// kept).
func (a *app) rotateProposal(cmd *cobra.Command, f *rotateFlags, g *guardianAction, haveNonce bool) error {
	if f.from != "" {
		src, err := loadGuardianFiles([]string{f.from})
		if err != nil {
			return err
		}
		if src.Action != actionRotate {
			return fmt.Errorf("%s signs %s, not a rotate", f.from, src.guardianAction)
		}
		*g = src.guardianAction
		return nil
	}
	return a.withRollup(cmd, nil, func(_ context.Context, _ *l1client.Client, r *l1api.Rollup) error {
		next, err := f.apply(r.Config)
		if err != nil {
			return err
		}
		b, err := rlp.EncodeToBytes(next)
		if err != nil {
			return err
		}
		g.Config = hexutil.Encode(b)
		if !haveNonce {
			g.Nonce = r.GuardianNonce
		}
		return nil
	})
}

// apply returns cfg with the flags' changes; at least one is required.
func (f *rotateFlags) apply(cfg l1api.RollupConfig) (*l1api.RollupConfig, error) {
	changed := false
	if len(f.sequencers) > 0 {
		cfg.Sequencers, changed = nil, true
		for _, s := range f.sequencers {
			if !common.IsHexAddress(s) {
				return nil, fmt.Errorf("--sequencer %q is not an address", s)
			}
			cfg.Sequencers = append(cfg.Sequencers, common.HexToAddress(s))
		}
	}
	if f.vkHash != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(f.vkHash, "0x"))
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("--vk-hash %q: want 32 bytes in hex", f.vkHash)
		}
		cfg.VKHash, changed = [32]byte(b), true
	}
	if len(f.guardians) > 0 {
		cfg.Guardians, changed = nil, true
		for i, s := range f.guardians {
			b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
			if err == nil {
				_, err = pqkey.ParsePublicKey(b)
			}
			if err != nil {
				return nil, fmt.Errorf("--guardian-pubkey %d: %w", i, err)
			}
			cfg.Guardians = append(cfg.Guardians, b)
		}
	}
	if f.threshold >= 0 {
		cfg.GuardianThreshold, changed = uint64(f.threshold), true
	}
	if !changed {
		return nil, fmt.Errorf("rotate: nothing changes: give --sequencer, --vk-hash, --guardian-pubkey or --threshold (or --from a proposal)")
	}
	return &cfg, nil
}

// describeConfig is one line of a proposed config for the signer to read.
func describeConfig(g *guardianAction) string {
	c, err := g.config()
	if err != nil {
		return err.Error()
	}
	return describeRollupConfig(c)
}

func describeRollupConfig(c *l1api.RollupConfig) string {
	seqs := make([]string, len(c.Sequencers))
	for i, s := range c.Sequencers {
		seqs[i] = s.Hex()
	}
	return fmt.Sprintf("sequencers [%s], VK hash %x, guardians %d of %d", strings.Join(seqs, " "), c.VKHash,
		c.GuardianThreshold, len(c.Guardians))
}
