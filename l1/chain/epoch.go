package chain

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// validatorTick runs the validator rules at the start of a block, after the rollups' tick:
// the block's equivocation evidence is slashed, due unbonded stake is paid back, and at an epoch
// boundary the queued changes take effect. A chain without a validator set does nothing.
func (x *executor) validatorTick(evidence []Misbehavior) error {
	var vs Validators
	ok, err := x.load(keyValidators(), &vs)
	if err != nil || !ok {
		return err
	}
	for _, m := range evidence {
		if err := x.slash(&vs, m); err != nil {
			return fatal(err)
		}
	}
	if err := x.releaseUnbonded(&vs); err != nil {
		return fatal(err)
	}
	if x.height%x.c.cfg.Genesis.Staking.EpochLength == 0 {
		x.boundary(&vs)
	}
	x.o.putRLP(keyValidators(), &vs)
	x.commitTx()
	return nil
}

// slash burns SlashPercent of the bonded stake of the validator m names and jails it: it leaves
// the set at the next boundary. Each piece of evidence counts once (s/evidence/<hash>), and a
// validator is slashed once: a double-signing node equivocates at many heights before it is
// removed, and further evidence against a jailed validator burns nothing more. The last
// validator of the next set is burned but not removed (the set is never empty). Evidence against
// a key no longer in the state (a validator gone with its stake) changes nothing.
func (x *executor) slash(vs *Validators, m Misbehavior) error {
	enc, err := rlp.EncodeToBytes(&m)
	if err != nil {
		return fmt.Errorf("chain: encoding evidence: %w", err)
	}
	key := keyEvidence(crypto.Keccak256Hash(enc))
	var seen uint64
	if done, err := x.load(key, &seen); err != nil || done {
		return err
	}
	x.o.putRLP(key, x.height)
	i := vs.byConsensusAddress(m.ConsensusAddress)
	if i < 0 || vs.Records[i].Jailed {
		return nil
	}
	r := &vs.Records[i]
	burn := r.Bonded / 100 * SlashPercent
	burn += r.Bonded % 100 * SlashPercent / 100
	if burn > 0 {
		if err := x.releaseBond(r.Address, burn, 0, burn); err != nil {
			return err
		}
	}
	r.Bonded -= burn
	r.Next = min(r.Next, r.Bonded)
	if _, _, n := vs.next(); n > 1 || r.Next == 0 {
		r.Next, r.Jailed = 0, true
	}
	x.emit(Event{Kind: EventValidatorSlashed, Address: r.Address, Amount: burn, Number: m.Height})
	return nil
}

// releaseUnbonded pays back the unbonding entries that are due.
func (x *executor) releaseUnbonded(vs *Validators) error {
	n := 0
	for _, u := range vs.Unbonding {
		if u.ReleaseAt > x.height {
			break
		}
		if err := x.releaseBond(u.Address, u.Amount, u.Amount, 0); err != nil {
			return err
		}
		x.emit(Event{Kind: EventStakeReleased, Address: u.Address, Amount: u.Amount})
		n++
	}
	vs.Unbonding = vs.Unbonding[n:]
	return nil
}

// boundary applies the queued changes: each record's power becomes its Next stake, the bonded
// stake above it unbonds for one epoch, records left with nothing are dropped (a jailed one is
// kept, so that its key cannot join again). The new set is in force from height+2, when
// CometBFT applies the updates of this block.
func (x *executor) boundary(vs *Validators) {
	kept := vs.Records[:0]
	for _, r := range vs.Records {
		if r.Bonded > r.Next {
			vs.Unbonding = append(vs.Unbonding, Unbonding{Address: r.Address, Amount: r.Bonded - r.Next,
				ReleaseAt: x.height + x.c.cfg.Genesis.Staking.EpochLength})
			r.Bonded = r.Next
		}
		if r.Power != r.Next {
			x.valUpdates = append(x.valUpdates, ValidatorUpdate{ConsensusKey: r.ConsensusKey, Power: r.Next})
			r.Power = r.Next
		}
		if r.Power > 0 || r.Jailed {
			kept = append(kept, r)
		}
	}
	vs.Records = kept
	if len(x.valUpdates) == 0 {
		return
	}
	set := vs.inForce()
	var total uint64
	for _, m := range set {
		total += m.Power
	}
	x.o.putRLP(keyValidatorSet(x.height+2), set)
	x.emit(Event{Kind: EventValidatorSet, Number: x.height + 2, Amount: total})
}

// Validators returns the validator state (ErrNotFound on a chain without a validator set).
func (c *Chain) Validators() (*Validators, error) {
	var vs Validators
	return &vs, c.read(keyValidators(), &vs)
}

// ValidatorSetAt returns the set in force at height (the one the consensus engine used for it,
// whose members sign the certificate of height-1) and the height it has been in force from.
func (c *Chain) ValidatorSetAt(height uint64) (from uint64, set []SetMember, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	lower := []byte(prefixState + "valset/")
	it, err := c.reader().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte(keyValidatorSet(height + 1))})
	if err != nil {
		return 0, nil, fmt.Errorf("chain: validator set iterator: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return 0, nil, err
		}
		return 0, nil, fmt.Errorf("%w: validator set at height %d", ErrNotFound, height)
	}
	k := it.Key()
	if len(k) != len(lower)+8 {
		return 0, nil, fmt.Errorf("%w: validator set key %q", ErrCorruptStore, k)
	}
	for _, b := range k[len(lower):] {
		from = from<<8 | uint64(b)
	}
	if err := rlp.DecodeBytes(it.Value(), &set); err != nil {
		return 0, nil, fmt.Errorf("%w: validator set from %d: %v", ErrCorruptStore, from, err)
	}
	return from, set, nil
}
