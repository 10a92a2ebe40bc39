package abci

import (
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/pqbridge/pqbridge/l1/valset"
)

// ConsensusKeys derives a validator's CometBFT keys from its consensus seed (pql1node
// -consensus-key-file): the Ed25519 key that signs CometBFT's votes, whose public key is the
// validator's consensusKey in the validators JSON, and the one that authenticates its p2p
// connections (its node ID, NodeID). The derivation is valset.ConsensusKeys (the wallet's
// validator join derives the same key without CometBFT).
func ConsensusKeys(seed [32]byte) (consensusKey, nodeKey cmted25519.PrivKey) {
	ck, nk := valset.ConsensusKeys(seed)
	return cmted25519.PrivKey(ck), cmted25519.PrivKey(nk)
}
