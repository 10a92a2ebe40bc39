package abci

import (
	"crypto/ed25519"
	"crypto/sha256"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// ConsensusKeys derives a validator's CometBFT keys from its consensus seed (pql1node
// -consensus-key-file): the Ed25519 key that signs CometBFT's votes, whose public key is the
// validator's consensusKey in the validators JSON, and the one that authenticates its p2p
// connections (its node ID, NodeID). Each is SHA-256 of a domain string and the seed.
func ConsensusKeys(seed [32]byte) (consensusKey, nodeKey cmted25519.PrivKey) {
	derive := func(domain string) cmted25519.PrivKey {
		s := sha256.Sum256(append([]byte(domain), seed[:]...))
		return cmted25519.PrivKey(ed25519.NewKeyFromSeed(s[:]))
	}
	return derive("pqbridge/cometbft-consensus-key/v1"), derive("pqbridge/cometbft-node-key/v1")
}
