// Package valset reads the validator-set JSON that every L1 validator (pql1node -validators)
// and every client that pins the set (-l1-validators) take:
//
//	{"validators": [{"pqKey": "0x<ML-DSA-65 public key>", "consensusKey": "0x<Ed25519 public key>", "stake": 10}, ...],
//	 "epochLength": 100, "minStake": 10}
//
// ("power" is accepted as the older name of "stake").
//
// It is pure (no CometBFT, no pebble), so clients link it without the validator's engine.
package valset

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// Entry is one validator of the file.
type Entry struct {
	PQKey        hexutil.Bytes `json:"pqKey"`           // ML-DSA-65 public key: certificates and QUIC replies
	ConsensusKey hexutil.Bytes `json:"consensusKey"`    // Ed25519 public key: CometBFT's votes
	Stake        uint64        `json:"stake,omitempty"` // its stake: CometBFT's voting power and its weight in certificates
	Power        uint64        `json:"power,omitempty"` // the older name of stake
}

// StakeOf is the entry's stake (Stake, or Power in a file of the older form).
func (e *Entry) StakeOf() uint64 {
	if e.Stake != 0 {
		return e.Stake
	}
	return e.Power
}

// DefaultEpochLength is the blocks between validator-set changes of a file without
// epochLength.
const DefaultEpochLength = 100

// ConsensusKeys derives a validator's CometBFT keys, Ed25519 private keys, from the 32-byte seed
// of pql1node's -consensus-key-file: the consensus key (its votes, the key a validator joins the
// set with) and the p2p node key.
func ConsensusKeys(seed [32]byte) (consensusKey, nodeKey ed25519.PrivateKey) {
	derive := func(domain string) ed25519.PrivateKey {
		s := sha256.Sum256(append([]byte(domain), seed[:]...))
		return ed25519.NewKeyFromSeed(s[:])
	}
	return derive("pqbridge/cometbft-consensus-key/v1"), derive("pqbridge/cometbft-node-key/v1")
}

// File is the validator-set JSON.
type File struct {
	Validators []Entry `json:"validators"`
	// The genesis staking parameters (pql1node; docs/l1.md §5, Validators); clients ignore them.
	EpochLength uint64 `json:"epochLength,omitempty"`
	MinStake    uint64 `json:"minStake,omitempty"`
}

// Read decodes the file at path strictly (unknown fields and trailing data are refused); every
// error names the file.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("validator set: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("validator set %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes the JSON strictly; an empty list is an error.
func Parse(b []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	if len(f.Validators) == 0 {
		return nil, errors.New("lists no validator")
	}
	for i, v := range f.Validators {
		if v.Stake != 0 && v.Power != 0 && v.Stake != v.Power {
			return nil, fmt.Errorf("validator %d: stake %d and power %d; give one", i, v.Stake, v.Power)
		}
	}
	return &f, nil
}

// Set is the ML-DSA set of the file's validators, what a client pins: each key must parse,
// and the set be valid (qc.NewValidatorSet). Errors name the validator by its position.
func (f *File) Set() (*qc.ValidatorSet, error) {
	vals := make([]qc.Validator, len(f.Validators))
	for i, v := range f.Validators {
		k, err := pqkey.ParsePublicKey(v.PQKey)
		if err != nil {
			return nil, fmt.Errorf("validator %d: pqKey: %w", i, err)
		}
		vals[i] = qc.Validator{Key: k, Power: v.StakeOf()}
	}
	return qc.NewValidatorSet(vals)
}

// ReadSet reads the file at path and returns its set; errors name the file and what is wrong.
func ReadSet(path string) (*qc.ValidatorSet, error) {
	f, err := Read(path)
	if err != nil {
		return nil, err
	}
	s, err := f.Set()
	if err != nil {
		return nil, fmt.Errorf("validator set %s: %w", path, err)
	}
	return s, nil
}
