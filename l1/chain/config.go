package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

type ConfigChange = l1api.ConfigChange

type ConfigChangeMessage = l1api.ConfigChangeMessage

type PendingConfig = l1api.PendingConfig

// ConfigHash is l1api.ConfigHash.
func ConfigHash(c *RollupConfig) ([32]byte, error) { return l1api.ConfigHash(c) }

// ConfigTimelock is l1api.ConfigTimelock.
func ConfigTimelock(c *RollupConfig) uint64 { return l1api.ConfigTimelock(c) }

// SignConfigChange is l1api.SignConfigChange.
func SignConfigChange(k *pqkey.PrivateKey, chainID, rollupID uint64, cfg *RollupConfig, nonce uint64) ([]byte, error) {
	return l1api.SignConfigChange(k, chainID, rollupID, cfg, nonce)
}

// checkMutable refuses a change of anything but the sequencers, the verifying key, the guardians
// and their threshold, and the governor limits: the circuit's shape (tree depth, batch size) and
// the windows users rely on to exit stay what they registered.
func checkMutable(old, next *RollupConfig) error {
	fixed := []struct {
		name      string
		old, next uint64
	}{
		{"L2 chain ID", old.L2ChainID, next.L2ChainID},
		{"tree depth", uint64(old.TreeDepth), uint64(next.TreeDepth)},
		{"batch size", old.BatchSize, next.BatchSize},
		{"sequencer bond", old.SequencerBond, next.SequencerBond},
		{"challenge window", old.ChallengeWindow, next.ChallengeWindow},
		{"forced-inclusion window", old.ForcedInclusionWindow, next.ForcedInclusionWindow},
		{"exodus timeout", old.ExodusTimeout, next.ExodusTimeout},
		{"challenge bond", old.ChallengeBond, next.ChallengeBond},
	}
	for _, f := range fixed {
		if f.old != f.next {
			return fmt.Errorf("%w: %s %d -> %d (only sequencers, VK hash, guardians, threshold and governor may change)",
				ErrConfigImmutable, f.name, f.old, f.next)
		}
	}
	return nil
}

// configChange checks a config change and queues it; a later change replaces a pending one and
// restarts the timelock (the guardians cancel a change by proposing the config in force).
func (x *executor) configChange(p *ConfigChange) error {
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if p.Nonce != r.GuardianNonce {
		return fmt.Errorf("%w: %d, rollup %d expects %d", ErrBadGuardianNonce, p.Nonce, r.ID, r.GuardianNonce)
	}
	if r.Frozen {
		return fmt.Errorf("%w: rollup %d", ErrFrozen, r.ID)
	}
	if err := checkMutable(&r.Config, &p.Config); err != nil {
		return err
	}
	if err := validateConfig(&p.Config); err != nil {
		return err
	}
	h, err := ConfigHash(&p.Config)
	if err != nil {
		return fatal(err)
	}
	msg, err := rlp.EncodeToBytes(&ConfigChangeMessage{RollupID: r.ID, ConfigHash: h})
	if err != nil {
		return fatal(err)
	}
	if err := x.checkGuardianSigs(r, pqkey.ContextGuardianConfig, msg, p.Sigs); err != nil {
		return err
	}
	r.GuardianNonce++
	r.Pending = &PendingConfig{Config: p.Config, Hash: h, QueuedAt: x.height, ActivateAt: x.height + ConfigTimelock(&r.Config)}
	x.setRollup(r)
	x.emit(Event{Kind: EventConfigQueued, RollupID: r.ID, Number: r.Pending.ActivateAt, Root: h})
	return nil
}

// activateConfig applies r's pending config once its activation height has come, before any
// transaction of the block: batches submitted from this block on are judged by it. It reports
// whether r changed; the caller stores r.
func (x *executor) activateConfig(r *Rollup) bool {
	p := r.Pending
	if p == nil || x.height < p.ActivateAt {
		return false
	}
	if w := p.Config.Governor.WindowBlocks; w != r.Config.Governor.WindowBlocks {
		r.Gov = GovernorState{}
		if w > 0 {
			r.Gov.Window = x.height / w
		}
	}
	r.Config, r.Pending = p.Config, nil
	x.emit(Event{Kind: EventConfigActivated, RollupID: r.ID, Number: x.height, Root: p.Hash})
	return true
}
