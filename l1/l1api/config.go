package l1api

import (
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// ConfigChange proposes a rollup's next config, signed by at least the threshold of its current
// guardians (docs/l1.md §6, config changes). It is queued and applies at the activation height,
// QueuedAt + ConfigTimelock of the config in force.
type ConfigChange struct {
	RollupID uint64
	Nonce    uint64 // the rollup's guardian nonce (shared with GuardianAction)
	Config   RollupConfig
	Sigs     []GuardianSig
}

// ConfigChangeMessage is what each guardian signs with pqkey.ContextGuardianConfig, the L1 chain
// ID and the rollup's guardian nonce: the rollup and the hash of the proposed config.
type ConfigChangeMessage struct {
	RollupID   uint64
	ConfigHash [32]byte
}

// PendingConfig is a queued config change.
type PendingConfig struct {
	Config     RollupConfig
	Hash       [32]byte // ConfigHash(Config)
	QueuedAt   uint64
	ActivateAt uint64
}

// ConfigHash is the Keccak-256 of the config's RLP: what guardians sign.
func ConfigHash(c *RollupConfig) ([32]byte, error) {
	b, err := rlp.EncodeToBytes(c)
	if err != nil {
		return [32]byte{}, err
	}
	return crypto.Keccak256Hash(b), nil
}

// ConfigTimelock is how long a config change waits after it is queued: the forced-inclusion
// window plus the challenge window of the config in force, so that a user who disagrees can
// force a withdrawal in through the deposit queue and see its batch final, and claim it, under
// the old config before the new one applies.
func ConfigTimelock(c *RollupConfig) uint64 { return c.ForcedInclusionWindow + c.ChallengeWindow }

// SignConfigChange is one guardian's signature of a proposed config at the rollup's guardian nonce.
func SignConfigChange(k *pqkey.PrivateKey, chainID, rollupID uint64, cfg *RollupConfig, nonce uint64) ([]byte, error) {
	h, err := ConfigHash(cfg)
	if err != nil {
		return nil, err
	}
	msg, err := rlp.EncodeToBytes(&ConfigChangeMessage{RollupID: rollupID, ConfigHash: h})
	if err != nil {
		return nil, err
	}
	return k.Sign(pqkey.ContextGuardianConfig, chainID, nonce, msg)
}
