package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/bits"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// The staked validator set of a chain under external consensus (docs/l1.md §5, "Validators").
// A validator is an ML-DSA-65 key (its L1 account: it signs the quorum certificates) with an
// Ed25519 consensus key (CometBFT's votes) and a stake locked from its balance. Joins, stake
// changes and leaves are queued and take effect at the next epoch boundary (a height that is a
// multiple of Staking.EpochLength); the consensus engine applies the boundary's updates two
// heights later, which is when the set certificates are checked against changes. Stake withdrawn
// at a boundary unbonds for one more epoch; equivocation burns SlashPercent of a validator's
// stake and removes it at the next boundary.

// Bounds of the validator set.
const (
	// MaxValidators matches l1/qc's bound on a certificate's set.
	MaxValidators = 100
	// SlashPercent of its bonded stake is burned for an equivocation.
	SlashPercent = 10
	// MaxTotalStake is CometBFT's bound on the total voting power (MaxInt64/8): a set above it
	// would make CometBFT refuse the block's validator updates and halt.
	MaxTotalStake = 1<<63/8 - 1
)

// Staking are the validator-set parameters fixed at genesis.
type Staking struct {
	EpochLength uint64 // blocks between boundaries; the unbonding delay is one epoch
	MinStake    uint64 // the least stake a validator may hold
}

// GenesisValidator is a member of the genesis set; its stake is created bonded (it is part of
// the genesis supply besides the allocations).
type GenesisValidator struct {
	PQKey        []byte // ML-DSA-65 public key
	ConsensusKey []byte // Ed25519 public key
	Stake        uint64
}

// A validator's record and unbonding stake are package l1api's (clients decode the proven
// s/validators as l1api.ValidatorState).
type (
	ValidatorRecord = l1api.ValidatorRecord
	Unbonding       = l1api.Unbonding
)

// Validators is the validator state (key s/validators).
type Validators struct {
	Records   []ValidatorRecord // in address order
	Unbonding []Unbonding       // in release order
}

// ValidatorUpdate is a power change for the consensus engine (power 0 removes).
type ValidatorUpdate struct {
	ConsensusKey []byte
	Power        uint64
}

// The validator transactions' payloads and the set's members are package l1api's.
type (
	ValidatorJoin  = l1api.ValidatorJoin
	ValidatorStake = l1api.ValidatorStake
	ValidatorLeave = l1api.ValidatorLeave
	SetMember      = l1api.SetMember
)

// Misbehavior is equivocation evidence the consensus engine committed.
type Misbehavior struct {
	ConsensusAddress []byte // CometBFT's address of the Ed25519 key: sha256(key)[:20]
	Height           uint64 // of the equivocation
}

// ConsensusAddress is CometBFT's address of an Ed25519 consensus key.
func ConsensusAddress(key []byte) []byte {
	h := sha256.Sum256(key)
	return h[:20]
}

func keyValidators() string              { return string(stateproof.ValidatorsKey()) }
func keyValidatorSet(from uint64) string { return string(stateproof.ValidatorSetKey(from)) }
func keyEvidence(h common.Hash) string   { return prefixState + "evidence/" + string(h[:]) }

// genesisValidators writes the genesis set: its records, the set in force from height 1 and
// its stake as bonded.
func genesisValidators(o *overlay, g *Genesis) error {
	if len(g.Validators) == 0 {
		return nil
	}
	if g.Staking.EpochLength == 0 || g.Staking.MinStake == 0 {
		return fmt.Errorf("chain: genesis validators need an epoch length and a minimum stake, have %+v", g.Staking)
	}
	if len(g.Validators) > MaxValidators {
		return fmt.Errorf("chain: %w: %d genesis validators, at most %d", ErrTooManyValidators, len(g.Validators), MaxValidators)
	}
	var vs Validators
	var total uint64
	for i, gv := range g.Validators {
		k, err := pqkey.ParsePublicKey(gv.PQKey)
		if err != nil {
			return fmt.Errorf("chain: genesis validator %d: %w", i, err)
		}
		if len(gv.ConsensusKey) != ed25519.PublicKeySize {
			return fmt.Errorf("chain: genesis validator %d: %w: %d bytes", i, ErrBadConsensusKey, len(gv.ConsensusKey))
		}
		if gv.Stake < g.Staking.MinStake {
			return fmt.Errorf("chain: genesis validator %d: %w: %d, at least %d", i, ErrStakeTooLow, gv.Stake, g.Staking.MinStake)
		}
		if vs.find(k.Address()) >= 0 || vs.byConsensusKey(gv.ConsensusKey) >= 0 {
			return fmt.Errorf("chain: genesis validator %d listed twice", i)
		}
		var carry uint64
		if total, carry = bits.Add64(total, gv.Stake, 0); carry != 0 || total > MaxTotalStake {
			return fmt.Errorf("chain: genesis stake: %w: above %d", ErrOverflow, uint64(MaxTotalStake))
		}
		vs.insert(ValidatorRecord{Address: k.Address(), PQKey: gv.PQKey, ConsensusKey: gv.ConsensusKey,
			Power: gv.Stake, Bonded: gv.Stake, Next: gv.Stake})
	}
	o.putRLP(keyValidators(), &vs)
	o.putRLP(keyValidatorSet(1), vs.inForce())
	o.putRLP(keyGlobal(), &Global{Bonded: total})
	return nil
}

func (vs *Validators) find(a common.Address) int {
	for i := range vs.Records {
		if vs.Records[i].Address == a {
			return i
		}
	}
	return -1
}

func (vs *Validators) byConsensusKey(k []byte) int {
	for i := range vs.Records {
		if bytes.Equal(vs.Records[i].ConsensusKey, k) {
			return i
		}
	}
	return -1
}

func (vs *Validators) byConsensusAddress(a []byte) int {
	for i := range vs.Records {
		if bytes.Equal(ConsensusAddress(vs.Records[i].ConsensusKey), a) {
			return i
		}
	}
	return -1
}

func (vs *Validators) insert(r ValidatorRecord) {
	i, _ := slices.BinarySearchFunc(vs.Records, r.Address, func(v ValidatorRecord, a common.Address) int {
		return bytes.Compare(v.Address[:], a[:])
	})
	vs.Records = slices.Insert(vs.Records, i, r)
}

// inForce is the set of the records' Power, in address order.
func (vs *Validators) inForce() []SetMember {
	var set []SetMember
	for _, r := range vs.Records {
		if r.Power > 0 {
			set = append(set, SetMember{PQKey: r.PQKey, ConsensusKey: r.ConsensusKey, Power: r.Power})
		}
	}
	return set
}

// next returns the largest stake and the total of the set as it will be at the next boundary,
// and how many members it will have.
// The total saturates at 2^64-1 (MaxTotalStake refuses it long before).
func (vs *Validators) next() (largest, total uint64, members int) {
	for _, r := range vs.Records {
		if r.Next > 0 {
			var carry uint64
			if total, carry = bits.Add64(total, r.Next, 0); carry != 0 {
				total = ^uint64(0)
			}
			largest, members = max(largest, r.Next), members+1
		}
	}
	return largest, total, members
}

// checkConcentration refuses a change that leaves the next set empty, or lets its largest
// stake hold more than a third of the total when the largest share was smaller before: a
// validator above a third can stall the chain alone. A change that lowers the largest share
// (a join to a small set) is always allowed.
func checkConcentration(before, after *Validators) error {
	bMax, bTotal, _ := before.next()
	aMax, aTotal, n := after.next()
	if n == 0 {
		return ErrLastValidator
	}
	if aTotal > MaxTotalStake {
		return fmt.Errorf("%w: total stake %d above %d", ErrOverflow, aTotal, uint64(MaxTotalStake))
	}
	if !above(aMax, 3, aTotal, 1) { // 3·max ≤ total
		return nil
	}
	if above(aMax, bTotal, bMax, aTotal) { // aMax/aTotal > bMax/bTotal
		return fmt.Errorf("%w: %d of %d", ErrStakeConcentration, aMax, aTotal)
	}
	return nil
}

// above reports a·b > c·d without overflow.
func above(a, b, c, d uint64) bool {
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	return h1 > h2 || h1 == h2 && l1 > l2
}

// validators loads the validator state; a chain without one refuses the validator transactions.
func (x *executor) validators() (*Validators, error) {
	var vs Validators
	ok, err := x.load(keyValidators(), &vs)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoValidatorSet
	}
	return &vs, nil
}

// clone copies the records (the concentration check compares before and after).
func (vs *Validators) clone() *Validators {
	return &Validators{Records: slices.Clone(vs.Records), Unbonding: slices.Clone(vs.Unbonding)}
}

func (x *executor) validatorJoin(tx *DecodedTx, p *ValidatorJoin) error {
	vs, err := x.validators()
	if err != nil {
		return err
	}
	if i := vs.find(tx.Sender); i >= 0 {
		if vs.Records[i].Jailed {
			return fmt.Errorf("%w: %s", ErrJailed, tx.Sender)
		}
		return fmt.Errorf("%w: %s", ErrAlreadyValidator, tx.Sender)
	}
	if len(p.ConsensusKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadConsensusKey, len(p.ConsensusKey), ed25519.PublicKeySize)
	}
	if vs.byConsensusKey(p.ConsensusKey) >= 0 {
		return fmt.Errorf("%w: %x is another validator's", ErrBadConsensusKey, p.ConsensusKey)
	}
	minStake := x.c.cfg.Genesis.Staking.MinStake
	if p.Stake < minStake {
		return fmt.Errorf("%w: %d, at least %d", ErrStakeTooLow, p.Stake, minStake)
	}
	if _, _, n := vs.next(); n >= MaxValidators {
		return fmt.Errorf("%w: %d validators", ErrTooManyValidators, n)
	}
	after := vs.clone()
	after.insert(ValidatorRecord{Address: tx.Sender, PQKey: tx.PubKey, ConsensusKey: p.ConsensusKey, Bonded: p.Stake, Next: p.Stake})
	if err := checkConcentration(vs, after); err != nil {
		return err
	}
	if err := x.lockBond(tx.Sender, p.Stake); err != nil {
		return err
	}
	return x.queued(after, tx.Sender, p.Stake)
}

func (x *executor) queued(vs *Validators, a common.Address, next uint64) error {
	x.o.putRLP(keyValidators(), vs)
	x.emit(Event{Kind: EventValidatorChange, Address: a, Amount: next})
	return nil
}

// member returns the index of from's record if it is a validator not leaving.
func (vs *Validators) member(from common.Address) (int, error) {
	i := vs.find(from)
	switch {
	case i < 0:
		return 0, fmt.Errorf("%w: %s", ErrNotValidator, from)
	case vs.Records[i].Jailed:
		return 0, fmt.Errorf("%w: %s", ErrJailed, from)
	case vs.Records[i].Next == 0:
		return 0, fmt.Errorf("%w: %s is leaving at the next epoch", ErrNotValidator, from)
	}
	return i, nil
}

func (x *executor) validatorStake(from common.Address, p *ValidatorStake) error {
	vs, err := x.validators()
	if err != nil {
		return err
	}
	i, err := vs.member(from)
	if err != nil {
		return err
	}
	if p.Amount == 0 {
		return fmt.Errorf("%w: a stake change of 0", ErrTxMalformed)
	}
	after := vs.clone()
	r := &after.Records[i]
	if p.Withdraw {
		if minStake := x.c.cfg.Genesis.Staking.MinStake; r.Next < p.Amount || r.Next-p.Amount < minStake {
			return fmt.Errorf("%w: withdrawing %d of %d leaves less than %d (leave to withdraw it all)", ErrStakeTooLow, p.Amount, r.Next, minStake)
		}
		r.Next -= p.Amount
	} else {
		if r.Bonded > r.Bonded+p.Amount {
			return fmt.Errorf("%w: stake of %s", ErrOverflow, from)
		}
		r.Next += p.Amount
		r.Bonded += p.Amount
	}
	if err := checkConcentration(vs, after); err != nil {
		return err
	}
	if !p.Withdraw {
		if err := x.lockBond(from, p.Amount); err != nil {
			return err
		}
	}
	return x.queued(after, from, r.Next)
}

func (x *executor) validatorLeave(from common.Address) error {
	vs, err := x.validators()
	if err != nil {
		return err
	}
	i, err := vs.member(from)
	if err != nil {
		return err
	}
	after := vs.clone()
	after.Records[i].Next = 0
	if err := checkConcentration(vs, after); err != nil {
		return err
	}
	return x.queued(after, from, 0)
}
