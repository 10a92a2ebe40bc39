package abci

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// TestValidatorJoinLeave: a fifth node, funded by a transfer, joins the set by transaction; at
// the epoch boundary CometBFT takes it in (two heights later) and its ML-DSA votes appear in the
// certificates, which verify against the set in force at each height and not against the other.
// Then a genesis validator leaves and the set shrinks to four, without its votes. Each new set
// is proven (l1_proveState) at its boundary height under a certificate of the old set. A client
// pinned to the genesis set follows both changes, one started after them walks across both, and
// a client of a validator forging the new set refuses it (l1client.ErrSetNotProven).
func TestValidatorJoinLeave(t *testing.T) {
	tn := newTestNetWith(t, 4, 1, nil)
	joiner, leaver := tn.nodes[4], tn.nodes[1]
	tn.waitHeight(2, 40*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	f := newSetFollower(ctx, tn)
	if _, err := tn.nodes[0].n.SubmitTx(tn.transfer(0, joiner.pq.Address(), 1000)); err != nil {
		t.Fatal(err)
	}
	tn.waitBalance(joiner.pq.Address(), 1000, 30*time.Second)
	tn.submit(0, joiner.pq, chain.TxValidatorJoin, 0,
		&chain.ValidatorJoin{ConsensusKey: joiner.comet.ConsensusKey.PubKey().Bytes(), Stake: testPower})
	from := tn.waitSet(func(set []chain.SetMember) bool { return len(set) == 5 }, 40*time.Second)
	tn.waitHeight(from, 40*time.Second) // the boundary's certificate commits at from
	tn.proveSet(from)
	tn.waitHeight(from+4, 40*time.Second)
	tn.checkSets(from, 4, 5, joiner.pq.Address())
	f.check(ctx, f.c, joiner.pq.Address(), 1000-testPower, from, 5)
	f.checkForged(ctx, joiner.pq.Address())
	if acct, err := tn.nodes[0].n.Account(joiner.pq.Address()); err != nil || acct.Balance != 1000-testPower {
		t.Fatalf("joiner's balance %d (%v), want %d", acct.Balance, err, 1000-testPower)
	}

	tn.submit(2, leaver.pq, chain.TxValidatorLeave, 0, &chain.ValidatorLeave{})
	from = tn.waitSet(func(set []chain.SetMember) bool { return len(set) == 4 }, 40*time.Second)
	tn.waitHeight(from, 40*time.Second)
	tn.proveSet(from)
	tn.waitHeight(from+4, 40*time.Second)
	tn.checkSets(from, 5, 4, common.Address{})
	f.check(ctx, f.c, joiner.pq.Address(), 1000-testPower, from, 4)
	f.check(ctx, f.dial(ctx, f.honest), joiner.pq.Address(), 1000-testPower, from, 4) // a restart walks both
	h := tn.minHeight()
	for height := from - 1; height <= h-2; height++ {
		c, err := tn.nodes[0].app.Certificate(height)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range c.Votes {
			if v.Signer == leaver.pq.Address() {
				t.Fatalf("the validator that left signs the certificate of height %d", height)
			}
		}
	}
	tn.checkAgreement(h)
}

// proveSet proves, as a client that trusts only the set it pinned would, the set in force from
// height from: a proven read of s/valset/<from> at the boundary height from-2, whose certificate
// is signed by the old set.
func (tn *testNet) proveSet(from uint64) {
	tn.t.Helper()
	v := tn.nodes[0]
	keys := [][]byte{stateproof.ValidatorSetKey(from)}
	r, err := v.n.ProveState(&stateproof.Request{Height: from - 2, Keys: keys})
	if err != nil {
		tn.t.Fatal(err)
	}
	old, err := v.app.SignersOf(from - 2)
	if err != nil {
		tn.t.Fatal(err)
	}
	cert, err := qc.Decode(r.Cert)
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := cert.Verify(old, testChainID, from-2, r.AppHash); err != nil {
		tn.t.Fatalf("certificate of the boundary %d against the old set: %v", from-2, err)
	}
	if err := r.VerifyEntries(keys); err != nil || !r.Entries[0].Present {
		tn.t.Fatalf("proof of the set from %d: %v (present %v)", from, err, r.Entries[0].Present)
	}
	var members []chain.SetMember
	if err := rlp.DecodeBytes(r.Entries[0].Value, &members); err != nil {
		tn.t.Fatal(err)
	}
	vals := make([]Validator, len(members))
	for i, m := range members {
		vals[i] = Validator{PQKey: m.PQKey, ConsensusKey: m.ConsensusKey, Power: m.Power}
	}
	proven, _, err := validatorSet(vals)
	if err != nil {
		tn.t.Fatal(err)
	}
	next, err := v.app.SignersOf(from - 1)
	if err != nil {
		tn.t.Fatal(err)
	}
	if proven.Hash() != next.Hash() {
		tn.t.Fatalf("proven set from %d hashes to %s, the set signing height %d is %s", from, proven.Hash(), from-1, next.Hash())
	}
}

// submit signs a transaction of k and submits it to validator i.
func (tn *testNet) submit(i int, k *pqkey.PrivateKey, typ chain.TxType, nonce uint64, payload any) {
	tn.t.Helper()
	raw, err := chain.SignTx(k, typ, testChainID, nonce, payload)
	if err != nil {
		tn.t.Fatal(err)
	}
	if _, err := tn.nodes[i].n.SubmitTx(raw); err != nil {
		tn.t.Fatalf("submitting %s to validator %d: %v", typ, i, err)
	}
}

// waitSet polls validator 0's chain until the latest validator set satisfies ok, and returns
// the height it is in force from.
func (tn *testNet) waitSet(ok func([]chain.SetMember) bool, within time.Duration) uint64 {
	tn.t.Helper()
	deadline := time.Now().Add(within)
	for {
		head := tn.height(0)
		from, set, err := tn.nodes[0].n.Chain().ValidatorSetAt(head + 2)
		if err != nil {
			tn.t.Fatal(err)
		}
		if ok(set) {
			return from
		}
		if time.Now().After(deadline) {
			tn.t.Fatalf("no validator set change within %v (height %d, %d members from %d)", within, head, len(set), from)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSets checks, on every running node, the certificates of every height up to the last one
// committed: each verifies against the set that signs it (CometBFT's set of the next height),
// the set changes from before members to after at height from (so the certificate of from-2 is
// the last of the old set and does not verify against the new one), and signer, if not zero,
// signs at least one certificate of the new set.
func (tn *testNet) checkSets(from uint64, before, after int, signer common.Address) {
	tn.t.Helper()
	h := tn.minHeight()
	for i, v := range tn.nodes {
		if v.n == nil {
			continue
		}
		old, err := v.app.SignersOf(from - 2)
		if err != nil {
			tn.t.Fatal(err)
		}
		next, err := v.app.SignersOf(from - 1)
		if err != nil {
			tn.t.Fatal(err)
		}
		for height, want := range map[uint64]*qc.ValidatorSet{from - 2: old, from - 1: next} {
			s, err := v.n.Signers(height) // what l1_validators serves
			if err != nil || s.Hash != want.Hash() || len(s.Members) != len(want.Validators()) {
				tn.t.Fatalf("node %d: Signers(%d) = %+v, %v; want the set %s", i, height, s, err, want.Hash())
			}
		}
		if len(old.Validators()) != before || len(next.Validators()) != after {
			tn.t.Fatalf("node %d: %d signers of height %d and %d of %d, want %d and %d", i,
				len(old.Validators()), from-2, len(next.Validators()), from-1, before, after)
		}
		signed := false
		for height := uint64(0); height <= h-2; height++ {
			c, b := tn.certificate(i, height)
			set, err := v.app.SignersOf(height)
			if err != nil {
				tn.t.Fatal(err)
			}
			if err := c.Verify(set, testChainID, height, b); err != nil {
				tn.t.Fatalf("node %d, certificate of height %d against its set: %v", i, height, err)
			}
			if height == from-2 {
				if err := c.Verify(next, testChainID, height, b); err == nil {
					tn.t.Fatalf("node %d: the certificate of height %d verifies against the next set too", i, height)
				}
			}
			for _, vote := range c.Votes {
				signed = signed || height >= from-1 && vote.Signer == signer
			}
		}
		if signer != (common.Address{}) && !signed {
			tn.t.Fatalf("node %d: %s signs no certificate from height %d to %d", i, signer, from-1, h-2)
		}
	}
}

// certificate is validator i's certificate of height and the state root it certifies.
func (tn *testNet) certificate(i int, height uint64) (*qc.Certificate, common.Hash) {
	tn.t.Helper()
	c, err := tn.nodes[i].app.Certificate(height)
	if err != nil {
		tn.t.Fatalf("validator %d: %v", i, err)
	}
	b, err := tn.nodes[i].n.Block(height)
	if err != nil {
		tn.t.Fatal(err)
	}
	return c, b.Header.StateRoot
}

// TestEquivocationSlashed: validator 3's keys run in two nodes at once, which sign conflicting
// votes; CometBFT turns them into duplicate-vote evidence that a block commits, and every honest
// node slashes validator 3 exactly once (SlashPercent of its stake burned, whatever further
// evidence comes) and drops it from the set at the next epoch boundary; the three left go on
// certifying. A node replaying every block into an empty L1 datadir slashes the same.
func TestEquivocationSlashed(t *testing.T) {
	tn := newTestNetWith(t, 4, 1, map[int]int{0: 3})
	const burn = testPower * chain.SlashPercent / 100
	deadline := time.Now().Add(45 * time.Second)
	for {
		g, err := tn.nodes[0].n.Chain().Global()
		if err != nil {
			t.Fatal(err)
		}
		if g.Burned > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no equivocation slashed within 45s (height %d)", tn.height(0))
		}
		time.Sleep(20 * time.Millisecond)
	}
	from := tn.waitSet(func(set []chain.SetMember) bool { return len(set) == 3 }, 40*time.Second)
	tn.waitHeight(from+4, 40*time.Second)
	h := tn.minHeight()
	tn.checkAgreement(h)
	tn.checkSets(from, 4, 3, common.Address{})
	for i := range 3 { // the honest nodes
		tn.checkSlashed(i, from, h, burn)
	}
	// Replaying every block into an empty L1 datadir slashes the same way: the evidence is in
	// CometBFT's blocks. Validator 2 is a third of the stake left, so the chain waits for it.
	if err := tn.stop(2); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(tn.nodes[2].dir, "l1")); err != nil {
		t.Fatal(err)
	}
	tn.restart(2)
	tn.waitHeight(h+3, 40*time.Second)
	tn.checkAgreement(h + 3)
	tn.checkSlashed(2, from, h, burn)
}

// checkSlashed checks on node i that validator 3 was slashed exactly once by burn, is jailed
// and out of the set from height from on (h a committed height after it).
func (tn *testNet) checkSlashed(i int, from, h, burn uint64) {
	t := tn.t
	t.Helper()
	byz := tn.nodes[3].pq.Address()
	c := tn.nodes[i].n.Chain()
	g, err := c.Global()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := c.Account(byz) // its unbonded stake, once paid back
	if err != nil || g.Burned != burn || g.Bonded+acct.Balance != 4*testPower-burn {
		t.Fatalf("node %d: global %+v, slashed validator's balance %d (%v); want %d burned and the rest bonded or paid back",
			i, g, acct.Balance, err, burn)
	}
	vs, err := c.Validators()
	if err != nil {
		t.Fatal(err)
	}
	var rec *chain.ValidatorRecord
	for j := range vs.Records {
		if vs.Records[j].Address == byz {
			rec = &vs.Records[j]
		}
	}
	if rec == nil || !rec.Jailed || rec.Power != 0 || rec.Bonded != 0 {
		t.Fatalf("node %d: the equivocating validator's record %+v, want jailed out of the set", i, rec)
	}
	slashes := 0
	evs, err := c.Events(1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == chain.EventValidatorSlashed {
			slashes++
			if e.Address != byz || e.Amount != burn {
				t.Fatalf("node %d: slash event %+v, want %s burning %d", i, e, byz, burn)
			}
			if i == 0 {
				t.Logf("validator 3 slashed at height %d for its equivocation at height %d; out of the set from %d", e.Height, e.Number, from)
			}
		}
	}
	if slashes != 1 {
		t.Fatalf("node %d: %d slash events, want exactly 1", i, slashes)
	}
	_, set, err := c.ValidatorSetAt(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range set {
		if bytes.Equal(m.PQKey, tn.nodes[3].pq.Public().Bytes()) {
			t.Fatalf("node %d: the equivocating validator is still in the set at height %d", i, h)
		}
	}
}
