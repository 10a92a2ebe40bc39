package chain

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const (
	testEpoch    = 5
	testMinStake = 100
	testStake    = 1000
)

// consensusKey is a deterministic Ed25519 public key.
func consensusKey(i byte) []byte {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{i, 0x5e}, 16)).Public().(ed25519.PublicKey)
}

// newStakedHarness is a chain with n genesis validators of testStake each, epochs of testEpoch
// blocks; it returns their ML-DSA keys.
func newStakedHarness(t *testing.T, nUsers, n int) (*harness, []*pqkey.PrivateKey) {
	t.Helper()
	h := &harness{t: t, validator: seededKey(t, 0), nonces: map[common.Address]uint64{}, verifier: &fakeVerifier{},
		judge: faultInjectionJudge{}, staking: Staking{EpochLength: testEpoch, MinStake: testMinStake}}
	for i := range nUsers {
		h.users = append(h.users, seededKey(t, byte(i+1)))
	}
	var keys []*pqkey.PrivateKey
	for i := range n {
		k := seededKey(t, byte(100+i))
		keys = append(keys, k)
		h.vals = append(h.vals, GenesisValidator{PQKey: k.Public().Bytes(), ConsensusKey: consensusKey(byte(100 + i)), Stake: testStake})
	}
	h.db = openMem(t)
	h.c = h.open(h.db)
	return h, keys
}

// blockWith executes, signs and commits the next block with evidence, returning the pending
// block (its validator updates).
func (h *harness) blockWith(evidence []Misbehavior, txs ...[]byte) *Pending {
	h.t.Helper()
	_, _, ts, _ := h.c.Head()
	p, err := h.c.ExecuteBlock(ts+1, txs, evidence)
	if err != nil {
		h.t.Fatal(err)
	}
	sig, err := SignHeader(h.validator, &p.Header)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.Commit(p, sig, nil); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// toBoundary commits empty blocks up to the one before the next epoch boundary.
func (h *harness) toBoundary() {
	h.t.Helper()
	for {
		height, _, _, _ := h.c.Head()
		if (height+1)%testEpoch == 0 {
			return
		}
		h.mustOK()
	}
}

func (h *harness) record(a common.Address) ValidatorRecord {
	h.t.Helper()
	vs, err := h.c.Validators()
	if err != nil {
		h.t.Fatal(err)
	}
	if i := vs.find(a); i >= 0 {
		return vs.Records[i]
	}
	return ValidatorRecord{}
}

func (h *harness) setAt(height uint64) []SetMember {
	h.t.Helper()
	_, set, err := h.c.ValidatorSetAt(height)
	if err != nil {
		h.t.Fatal(err)
	}
	return set
}

func powerOf(set []SetMember, k *pqkey.PrivateKey) uint64 {
	for _, m := range set {
		if bytes.Equal(m.PQKey, k.Public().Bytes()) {
			return m.Power
		}
	}
	return 0
}

func TestValidatorJoinAtBoundary(t *testing.T) {
	h, _ := newStakedHarness(t, 1, 4)
	u := h.users[0]
	h.mustOK(h.tx(u, TxValidatorJoin, &ValidatorJoin{ConsensusKey: consensusKey(1), Stake: 500}))
	if b := h.balance(u.Address()); b != userFunds-500 {
		t.Fatalf("balance %d after joining with 500, want %d", b, userFunds-500)
	}
	if r := h.record(u.Address()); r.Power != 0 || r.Next != 500 || r.Bonded != 500 {
		t.Fatalf("queued record %+v, want power 0, next and bonded 500", r)
	}
	h.checkSupply()
	h.toBoundary()
	p := h.blockWith(nil)
	b := p.Header.Height
	if len(p.ValidatorUpdates) != 1 || !bytes.Equal(p.ValidatorUpdates[0].ConsensusKey, consensusKey(1)) || p.ValidatorUpdates[0].Power != 500 {
		t.Fatalf("boundary %d updates %+v, want the joiner at power 500", b, p.ValidatorUpdates)
	}
	if n := len(h.setAt(b + 1)); n != 4 || powerOf(h.setAt(b+1), u) != 0 {
		t.Fatalf("set at %d has %d members (joiner power %d), want the 4 of genesis", b+1, n, powerOf(h.setAt(b+1), u))
	}
	if set := h.setAt(b + 2); len(set) != 5 || powerOf(set, u) != 500 {
		t.Fatalf("set at %d: %d members, joiner power %d; want 5 and 500", b+2, len(set), powerOf(set, u))
	}
	if p := h.blockWith(nil); len(p.ValidatorUpdates) != 0 {
		t.Fatalf("block after the boundary has updates %+v", p.ValidatorUpdates)
	}
	h.checkSupply()
}

func TestValidatorTxRefusals(t *testing.T) {
	h, vals := newStakedHarness(t, 2, 4)
	u, poor := h.users[0], h.users[1]
	join := func(k *pqkey.PrivateKey, ck []byte, stake uint64) []byte {
		return h.tx(k, TxValidatorJoin, &ValidatorJoin{ConsensusKey: ck, Stake: stake})
	}
	h.mustFail(join(u, consensusKey(1), testMinStake-1), ErrStakeTooLow)
	h.mustFail(join(u, consensusKey(1)[:31], testMinStake), ErrBadConsensusKey)
	h.mustFail(join(u, consensusKey(100), testMinStake), ErrBadConsensusKey) // validator 0's
	h.mustFail(join(u, consensusKey(1), 3000), ErrStakeConcentration)        // 3000 of 7000
	h.mustFail(h.tx(u, TxValidatorStake, &ValidatorStake{Amount: 10}), ErrNotValidator)
	h.mustFail(h.tx(u, TxValidatorLeave, &ValidatorLeave{}), ErrNotValidator)
	h.mustOK(h.tx(poor, TxTransfer, &Transfer{To: u.Address(), Amount: userFunds - 50}))
	h.mustFail(join(poor, consensusKey(2), testMinStake), ErrInsufficientFunds)
	h.mustOK(join(u, consensusKey(1), testStake)) // the valid twin
	h.mustFail(join(u, consensusKey(3), testMinStake), ErrAlreadyValidator)

	v := vals[0]
	h.mustFail(h.tx(v, TxValidatorStake, &ValidatorStake{Amount: 0}), ErrTxMalformed)
	h.mustFail(h.tx(v, TxValidatorStake, &ValidatorStake{Amount: testStake - testMinStake + 1, Withdraw: true}), ErrStakeTooLow)
	h.mustOK(h.tx(v, TxValidatorStake, &ValidatorStake{Amount: testStake - testMinStake, Withdraw: true}))
	h.mustFail(h.tx(vals[1], TxValidatorStake, &ValidatorStake{Amount: 2000}), ErrStakeConcentration) // 3000 of 6100
	h.mustFail(h.tx(vals[2], TxValidatorStake, &ValidatorStake{Amount: MaxTotalStake}), ErrOverflow)  // checked before the balance
	h.mustOK(h.tx(u, TxTransfer, &Transfer{To: vals[1].Address(), Amount: 10}))
	h.mustOK(h.tx(vals[1], TxValidatorStake, &ValidatorStake{Amount: 10}))
	if r := h.record(vals[1].Address()); r.Next != testStake+10 || r.Bonded != testStake+10 || r.Power != testStake {
		t.Fatalf("record %+v after adding 10", r)
	}
	h.checkSupply(vals[1].Address())

	// Leaving: 4 equal validators may go down to 3 (a third each), not to 2.
	h2, vals2 := newStakedHarness(t, 0, 4)
	h2.mustOK(h2.tx(vals2[0], TxValidatorLeave, &ValidatorLeave{}))
	h2.mustFail(h2.tx(vals2[0], TxValidatorLeave, &ValidatorLeave{}), ErrNotValidator) // already leaving
	h2.mustFail(h2.tx(vals2[1], TxValidatorLeave, &ValidatorLeave{}), ErrStakeConcentration)
	one, solo := newStakedHarness(t, 0, 1)
	one.mustFail(one.tx(solo[0], TxValidatorLeave, &ValidatorLeave{}), ErrLastValidator)
	one.mustOK(one.tx(solo[0], TxValidatorStake, &ValidatorStake{Amount: 1, Withdraw: true}))

	// A chain without a validator set refuses the validator transactions.
	plain := newHarness(t, 1)
	plain.mustFail(plain.tx(plain.users[0], TxValidatorJoin, &ValidatorJoin{ConsensusKey: consensusKey(1), Stake: testMinStake}), ErrNoValidatorSet)
}

func TestValidatorUnbonding(t *testing.T) {
	h, vals := newStakedHarness(t, 0, 4)
	v := vals[0]
	h.mustOK(h.tx(v, TxValidatorStake, &ValidatorStake{Amount: 300, Withdraw: true}))
	if r := h.record(v.Address()); r.Power != testStake || r.Next != testStake-300 || r.Bonded != testStake {
		t.Fatalf("record %+v after withdrawing 300", r)
	}
	h.toBoundary()
	p := h.blockWith(nil)
	if len(p.ValidatorUpdates) != 1 || p.ValidatorUpdates[0].Power != testStake-300 {
		t.Fatalf("boundary updates %+v, want power %d", p.ValidatorUpdates, testStake-300)
	}
	for range testEpoch - 1 {
		h.mustOK()
	}
	if b := h.balance(v.Address()); b != 0 {
		t.Fatalf("withdrawn stake paid before the unbonding delay: balance %d", b)
	}
	r := h.mustOK()
	if b := h.balance(v.Address()); b != 300 {
		t.Fatalf("balance %d after the unbonding delay, want 300", b)
	}
	if !hasEvent(r.Events, EventStakeReleased, v.Address(), 300) {
		t.Fatalf("no stake_released event: %+v", r.Events)
	}
	g, err := h.c.Global()
	if err != nil || g.Bonded != 4*testStake-300 {
		t.Fatalf("bonded %d (%v), want %d", g.Bonded, err, 4*testStake-300)
	}
	h.checkSupply(v.Address())
}

func hasEvent(evs []Event, k EventKind, a common.Address, amount uint64) bool {
	for _, e := range evs {
		if e.Kind == k && e.Address == a && e.Amount == amount {
			return true
		}
	}
	return false
}

func TestValidatorSlashing(t *testing.T) {
	h, vals := newStakedHarness(t, 0, 4)
	v := vals[2]
	ev := []Misbehavior{{ConsensusAddress: ConsensusAddress(consensusKey(102)), Height: 1}}
	p := h.blockWith(ev)
	const burn = testStake * SlashPercent / 100
	if !hasEvent(p.Events, EventValidatorSlashed, v.Address(), burn) {
		t.Fatalf("no validator_slashed event of %d: %+v", burn, p.Events)
	}
	g, err := h.c.Global()
	if err != nil || g.Burned != burn || g.Bonded != 4*testStake-burn {
		t.Fatalf("global %+v (%v), want burned %d, bonded %d", g, err, burn, 4*testStake-burn)
	}
	if r := h.record(v.Address()); !r.Jailed || r.Next != 0 || r.Bonded != testStake-burn || r.Power != testStake {
		t.Fatalf("slashed record %+v", r)
	}
	// The same evidence again (CometBFT reports each once; a replay must not burn twice).
	if p := h.blockWith(ev); hasEvent(p.Events, EventValidatorSlashed, v.Address(), burn) {
		t.Fatal("the same evidence slashed twice")
	}
	// Another equivocation of the jailed validator: it is slashed once.
	later := []Misbehavior{{ConsensusAddress: ConsensusAddress(consensusKey(102)), Height: 2}}
	if p := h.blockWith(later); hasEvent(p.Events, EventValidatorSlashed, v.Address(), burn) {
		t.Fatal("a jailed validator slashed again")
	}
	if g2, _ := h.c.Global(); g2 != g {
		t.Fatalf("global %+v after the repeated evidence, want %+v", g2, g)
	}
	h.mustFail(h.tx(v, TxValidatorStake, &ValidatorStake{Amount: 1}), ErrJailed)
	h.toBoundary()
	p = h.blockWith(nil)
	if len(p.ValidatorUpdates) != 1 || !bytes.Equal(p.ValidatorUpdates[0].ConsensusKey, consensusKey(102)) || p.ValidatorUpdates[0].Power != 0 {
		t.Fatalf("boundary updates %+v, want the slashed validator removed", p.ValidatorUpdates)
	}
	if set := h.setAt(p.Header.Height + 2); len(set) != 3 || powerOf(set, v) != 0 {
		t.Fatalf("set after the boundary: %d members, slashed power %d", len(set), powerOf(set, v))
	}
	h.mustFail(h.tx(v, TxValidatorJoin, &ValidatorJoin{ConsensusKey: consensusKey(7), Stake: testMinStake}), ErrJailed)
	for range testEpoch {
		h.mustOK()
	}
	if b := h.balance(v.Address()); b != testStake-burn {
		t.Fatalf("slashed validator's balance %d after unbonding, want %d", b, testStake-burn)
	}
	h.checkSupply(v.Address())
}
