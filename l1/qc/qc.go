// Package qc is the post-quantum quorum certificate of an L1 height: the ML-DSA-65 signatures
// of validators holding more than two thirds of the stake over (chain ID, height, app hash,
// validator-set hash). CometBFT, which orders L1's blocks (package l1/abci), votes with Ed25519;
// a client trusts none of that, only certificates checked against the validator set it pinned
// (from genesis, then certified set changes). docs/l1.md, "Consensus (CometBFT)".
package qc

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// MaxValidators bounds a set (and so a certificate's signatures, 3,309 bytes each).
const MaxValidators = 128

// Errors of Verify and of the set's constructor; errors.Is works on the wrapped forms.
var (
	ErrNoQuorum       = errors.New("qc: signatures hold no more than two thirds of the stake")
	ErrNotMember      = errors.New("qc: signer is not a member of the validator set")
	ErrHeaderMismatch = errors.New("qc: certificate is for another header")
	ErrBadSignature   = errors.New("qc: bad signature")
	ErrMalformed      = errors.New("qc: malformed certificate")
	ErrBadSet         = errors.New("qc: invalid validator set")
)

// Validator is a member of the set: its ML-DSA-65 key and its stake (CometBFT voting power).
type Validator struct {
	Key   *pqkey.PublicKey
	Power uint64
}

// ValidatorSet is a set of validators ordered by address, with its total stake and hash.
type ValidatorSet struct {
	vals  []Validator
	index map[common.Address]int
	total uint64
	hash  common.Hash
}

// setEntry is how the set hashes: the list of (key, power) in address order.
type setEntry struct {
	Key   []byte
	Power uint64
}

// NewValidatorSet checks vals (at least one, at most MaxValidators, each with positive power,
// no key twice, a total that fits in 64 bits) and orders them by address.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 || len(vals) > MaxValidators {
		return nil, fmt.Errorf("%w: %d validators (1 to %d)", ErrBadSet, len(vals), MaxValidators)
	}
	s := &ValidatorSet{vals: slices.Clone(vals), index: make(map[common.Address]int, len(vals))}
	slices.SortFunc(s.vals, func(a, b Validator) int { return bytes.Compare(a.Key.Address().Bytes(), b.Key.Address().Bytes()) })
	entries := make([]setEntry, len(s.vals))
	for i, v := range s.vals {
		if v.Power == 0 {
			return nil, fmt.Errorf("%w: validator %s has no stake", ErrBadSet, v.Key.Address())
		}
		if _, dup := s.index[v.Key.Address()]; dup {
			return nil, fmt.Errorf("%w: validator %s listed twice", ErrBadSet, v.Key.Address())
		}
		var carry uint64
		if s.total, carry = bits.Add64(s.total, v.Power, 0); carry != 0 {
			return nil, fmt.Errorf("%w: total stake overflows", ErrBadSet)
		}
		s.index[v.Key.Address()] = i
		entries[i] = setEntry{Key: v.Key.Bytes(), Power: v.Power}
	}
	enc, err := rlp.EncodeToBytes(entries)
	if err != nil {
		return nil, fmt.Errorf("qc: encoding the validator set: %w", err)
	}
	s.hash = crypto.Keccak256Hash(enc)
	return s, nil
}

// Hash is keccak256 of the RLP list of (key, power) in address order: what headers name.
func (s *ValidatorSet) Hash() common.Hash { return s.hash }

// TotalPower is the sum of the stakes.
func (s *ValidatorSet) TotalPower() uint64 { return s.total }

// Validators returns the members in address order. The caller must not modify them.
func (s *ValidatorSet) Validators() []Validator { return s.vals }

// Member returns the validator of an address.
func (s *ValidatorSet) Member(a common.Address) (Validator, bool) {
	i, ok := s.index[a]
	if !ok {
		return Validator{}, false
	}
	return s.vals[i], true
}

// Quorum reports whether power is more than two thirds of the total stake (CometBFT's own
// commit rule: two sets of that size share more than a third of the stake, so with less than a
// third faulty no two conflicting headers both get a certificate).
func (s *ValidatorSet) Quorum(power uint64) bool {
	hi1, lo1 := bits.Mul64(power, 3)
	hi2, lo2 := bits.Mul64(s.total, 2)
	return hi1 > hi2 || hi1 == hi2 && lo1 > lo2
}

// Header is what a validator certifies: a committed height of chain ChainID, the app hash
// (the l1/chain state root) after it, and the hash of the set that certifies it.
type Header struct {
	ChainID    uint64
	Height     uint64
	AppHash    common.Hash
	ValSetHash common.Hash
}

func (h *Header) payload() []byte {
	b, err := rlp.EncodeToBytes(h)
	if err != nil {
		panic(err) // fixed-size fields always encode
	}
	return b
}

// Sign is a validator's vote on h: ML-DSA-65 under pqkey.ContextQuorumCert, h.ChainID and
// h.Height as the nonce, over the RLP of h.
func Sign(k *pqkey.PrivateKey, h *Header) ([]byte, error) {
	return k.Sign(pqkey.ContextQuorumCert, h.ChainID, h.Height, h.payload())
}

// VerifyVote checks one validator's vote on h.
func VerifyVote(k *pqkey.PublicKey, h *Header, sig []byte) error {
	if err := k.Verify(pqkey.ContextQuorumCert, h.ChainID, h.Height, h.payload(), sig); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// Vote is one validator's signature in a certificate.
type Vote struct {
	Signer common.Address
	Sig    []byte
}

// Certificate is the votes on one header, in strictly increasing signer order.
type Certificate struct {
	Header Header
	Votes  []Vote
}

// Encode is the certificate's RLP.
func (c *Certificate) Encode() ([]byte, error) { return rlp.EncodeToBytes(c) }

// Decode parses a certificate; at most MaxValidators votes are accepted.
func Decode(b []byte) (*Certificate, error) {
	if len(b) > MaxValidators*(pqkey.SignatureSize+64)+256 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	var c Certificate
	if err := rlp.DecodeBytes(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(c.Votes) > MaxValidators {
		return nil, fmt.Errorf("%w: %d votes", ErrMalformed, len(c.Votes))
	}
	return &c, nil
}

// Verify checks that c certifies (chainID, height, appHash) under set, the set the client
// pinned: the header must be that one and name set's hash, every signer must be a member
// (once, in order) with a valid signature, and the signers must hold more than two thirds of
// the stake. Signatures are checked only after the cheap checks pass.
func (c *Certificate) Verify(set *ValidatorSet, chainID, height uint64, appHash common.Hash) error {
	want := Header{ChainID: chainID, Height: height, AppHash: appHash, ValSetHash: set.Hash()}
	if c.Header != want {
		return fmt.Errorf("%w: certificate %+v, want %+v", ErrHeaderMismatch, c.Header, want)
	}
	signers, power, err := c.signers(set)
	if err != nil {
		return err
	}
	if !set.Quorum(power) {
		return fmt.Errorf("%w: %d of %d signed", ErrNoQuorum, power, set.TotalPower())
	}
	for i, v := range signers {
		if err := VerifyVote(v.Key, &c.Header, c.Votes[i].Sig); err != nil {
			return fmt.Errorf("vote %d by %s: %w", i, v.Key.Address(), err)
		}
	}
	return nil
}

// signers maps the votes to members and sums their stake.
func (c *Certificate) signers(set *ValidatorSet) ([]Validator, uint64, error) {
	signers := make([]Validator, len(c.Votes))
	var power uint64
	for i, v := range c.Votes {
		if i > 0 && bytes.Compare(c.Votes[i-1].Signer[:], v.Signer[:]) >= 0 {
			return nil, 0, fmt.Errorf("%w: vote %d by %s is out of order or repeated", ErrMalformed, i, v.Signer)
		}
		m, ok := set.Member(v.Signer)
		if !ok {
			return nil, 0, fmt.Errorf("%w: vote %d by %s", ErrNotMember, i, v.Signer)
		}
		signers[i] = m
		power += m.Power // no overflow: the set's total fits
	}
	return signers, power, nil
}

// Builder collects verified votes on one header into a certificate.
type Builder struct {
	set    *ValidatorSet
	header Header
	votes  map[common.Address][]byte
	power  uint64
}

// NewBuilder starts a certificate of h, which must name set.
func NewBuilder(set *ValidatorSet, h Header) (*Builder, error) {
	if h.ValSetHash != set.Hash() {
		return nil, fmt.Errorf("%w: header names set %s, the set is %s", ErrHeaderMismatch, h.ValSetHash, set.Hash())
	}
	return &Builder{set: set, header: h, votes: map[common.Address][]byte{}}, nil
}

// Add verifies a member's vote and keeps it (a repeated signer is kept once).
func (b *Builder) Add(signer common.Address, sig []byte) error {
	m, ok := b.set.Member(signer)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotMember, signer)
	}
	if _, dup := b.votes[signer]; dup {
		return nil
	}
	if err := VerifyVote(m.Key, &b.header, sig); err != nil {
		return err
	}
	b.votes[signer] = slices.Clone(sig)
	b.power += m.Power
	return nil
}

// Power is the stake of the votes kept.
func (b *Builder) Power() uint64 { return b.power }

// Certificate returns the certificate of the votes kept, or ErrNoQuorum if they hold no more
// than two thirds of the stake.
func (b *Builder) Certificate() (*Certificate, error) {
	if !b.set.Quorum(b.power) {
		return nil, fmt.Errorf("%w: %d of %d signed", ErrNoQuorum, b.power, b.set.TotalPower())
	}
	c := &Certificate{Header: b.header}
	for _, v := range b.set.Validators() {
		if sig, ok := b.votes[v.Key.Address()]; ok {
			c.Votes = append(c.Votes, Vote{Signer: v.Key.Address(), Sig: sig})
		}
	}
	return c, nil
}
