package chain

import (
	"errors"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// rotationSetup registers a rollup of sequencer users[0] with guardians gs, 2 of 3; users[1] is
// the next sequencer and users[2] pays the config changes.
func rotationSetup(t *testing.T) (*harness, *l2Side, []*pqkey.PrivateKey) {
	h := newHarness(t, 3)
	gs := []*pqkey.PrivateKey{seededKey(t, 70), seededKey(t, 71), seededKey(t, 72)}
	s := h.register(h.users[0], testConfig(h, h.users[0], 7, gs, 2))
	return h, s, gs
}

// configSigs are the signatures of guardians who (indexes in gs) over cfg at nonce.
func configSigs(t *testing.T, gs []*pqkey.PrivateKey, id uint64, cfg *RollupConfig, nonce uint64, who ...int) []GuardianSig {
	t.Helper()
	var out []GuardianSig
	for _, i := range who {
		sig, err := SignConfigChange(gs[i], testChainID, id, cfg, nonce)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, GuardianSig{Guardian: uint64(i), Sig: sig})
	}
	return out
}

// queueChange sends a 2-of-3 config change to next and checks it is pending, not in force; it
// returns the activation height.
func queueChange(t *testing.T, h *harness, s *l2Side, gs []*pqkey.PrivateKey, next RollupConfig) uint64 {
	t.Helper()
	nonce := h.rollup(s.id).GuardianNonce
	res := h.mustOK(h.tx(h.users[2], TxConfigChange, &ConfigChange{RollupID: s.id, Nonce: nonce, Config: next,
		Sigs: configSigs(t, gs, s.id, &next, nonce, 0, 2)}))
	r := h.rollup(s.id)
	hash, err := ConfigHash(&next)
	if err != nil {
		t.Fatal(err)
	}
	want := res.Header.Height + s.cfg.ForcedInclusionWindow + s.cfg.ChallengeWindow
	if r.Pending == nil || r.Pending.ActivateAt != want || r.Pending.Hash != hash || r.Pending.QueuedAt != res.Header.Height ||
		r.GuardianNonce != nonce+1 {
		t.Fatalf("pending %+v, guardian nonce %d; want activation at %d, nonce %d", r.Pending, r.GuardianNonce, want, nonce+1)
	}
	if r.Config.VKHash != s.cfg.VKHash || !slices.Equal(r.Config.Sequencers, s.cfg.Sequencers) {
		t.Fatal("the change applied before its activation height")
	}
	return want
}

// untilHead produces empty blocks until the head is at height.
func untilHead(h *harness, height uint64) {
	h.t.Helper()
	for {
		head, _, _, _ := h.c.Head()
		if head >= height {
			return
		}
		h.mustOK()
	}
}

func checkErrs(t *testing.T, r *Result, want ...error) {
	t.Helper()
	for i, w := range want {
		if (w == nil && r.Errs[i] != nil) || !errors.Is(r.Errs[i], w) {
			t.Fatalf("block %d tx %d: got %v, want %v", r.Header.Height, i, r.Errs[i], w)
		}
	}
}

func TestRotation(t *testing.T) {
	t.Run("sequencer key", func(t *testing.T) {
		h, s, gs := rotationSetup(t)
		seqA, seqB := h.users[0], h.users[1]
		next := s.cfg
		next.Sequencers = []common.Address{seqB.Address()}
		activate := queueChange(t, h, s, gs, next)

		p1, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{{}})
		checkErrs(t, h.block(h.tx(seqB, TxSubmitBatch, p1), h.tx(seqA, TxSubmitBatch, p1)), ErrNotSequencer, nil)
		// The last block before activation: still seqA's rollup.
		untilHead(h, activate-2)
		p2, _ := s.batch(t, h, ModeValidity, []l2.Tx{{}})
		r := h.block(h.tx(seqB, TxSubmitBatch, p2), h.tx(seqA, TxSubmitBatch, p2))
		if r.Header.Height != activate-1 {
			t.Fatalf("block %d, want %d", r.Header.Height, activate-1)
		}
		checkErrs(t, r, ErrNotSequencer, nil)
		// From the activation height: seqB's.
		p3, _ := s.batch(t, h, ModeOptimistic, []l2.Tx{{}})
		r = h.block(h.tx(seqA, TxSubmitBatch, p3), h.tx(seqB, TxSubmitBatch, p3))
		if r.Header.Height != activate {
			t.Fatalf("block %d, want %d", r.Header.Height, activate)
		}
		checkErrs(t, r, ErrNotSequencer, nil)
		if ro := h.rollup(s.id); ro.Pending != nil || !slices.Equal(ro.Config.Sequencers, next.Sequencers) {
			t.Fatalf("after activation: pending %+v, sequencers %v", ro.Pending, ro.Config.Sequencers)
		}
		for h.rollup(s.id).FinalNumber < 3 {
			h.mustOK()
		}
		for n, want := range []common.Address{seqA.Address(), seqA.Address(), seqB.Address()} {
			b, err := h.c.Batch(s.id, uint64(n+1))
			if err != nil || b.Submitter != want {
				t.Fatalf("batch %d: %+v, %v; want submitted by %s", n+1, b, err, want)
			}
		}
		if ro := h.rollup(s.id); ro.FinalNumber != 3 || ro.FinalRoot != p3.NewRoot || ro.Stake != 0 {
			t.Fatalf("final %d root %x stake %d", ro.FinalNumber, ro.FinalRoot, ro.Stake)
		}
		h.checkSupply()
	})

	t.Run("verifying key", func(t *testing.T) {
		h, s, gs := rotationSetup(t)
		seq := h.users[0]
		vk1, vk2 := s.cfg.VKHash, [32]byte{2}
		next := s.cfg
		next.VKHash = vk2
		activate := queueChange(t, h, s, gs, next)

		untilHead(h, activate-2)
		p1, _ := s.batch(t, h, ModeValidity, []l2.Tx{{}})
		p1.Proof = vkProof(vk1)
		if r := h.mustOK(h.tx(seq, TxSubmitBatch, p1)); r.Header.Height != activate-1 {
			t.Fatalf("vk1 batch in block %d, want %d", r.Header.Height, activate-1)
		}
		p2, _ := s.batch(t, h, ModeValidity, []l2.Tx{{}})
		p2.Proof = vkProof(vk1)
		under2 := *p2
		under2.Proof = vkProof(vk2)
		r := h.block(h.tx(seq, TxSubmitBatch, p2), h.tx(seq, TxSubmitBatch, &under2))
		if r.Header.Height != activate {
			t.Fatalf("block %d, want %d", r.Header.Height, activate)
		}
		checkErrs(t, r, ErrBadProof, nil)
		if ro := h.rollup(s.id); ro.Config.VKHash != vk2 || ro.Pending != nil {
			t.Fatalf("VK %x pending %+v after activation", ro.Config.VKHash, ro.Pending)
		}
		for h.rollup(s.id).FinalNumber < 2 {
			h.mustOK()
		}
		if ro := h.rollup(s.id); ro.HeadNumber != 2 || ro.FinalRoot != under2.NewRoot {
			t.Fatalf("head %d final root %x", ro.HeadNumber, ro.FinalRoot)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		h, s, gs := rotationSetup(t)
		payer := h.users[2]
		outsider := seededKey(t, 79)
		next := s.cfg
		next.Sequencers = []common.Address{h.users[1].Address()}
		change := func(cfg RollupConfig, sigs []GuardianSig) []byte {
			return h.tx(payer, TxConfigChange, &ConfigChange{RollupID: s.id, Nonce: 0, Config: cfg, Sigs: sigs})
		}
		bigger, deeper := next, next
		bigger.BatchSize++
		deeper.TreeDepth++
		forged, err := SignConfigChange(outsider, testChainID, s.id, &next, 0)
		if err != nil {
			t.Fatal(err)
		}
		pauseSig, err := SignGuardianAction(gs[1], testChainID, s.id, ActionPause, 0)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			raw  []byte
			want error
		}{
			{"1 of 3 signatures", change(next, configSigs(t, gs, s.id, &next, 0, 1)), ErrGuardianQuorum},
			{"non-guardian signature", change(next, append(configSigs(t, gs, s.id, &next, 0, 0), GuardianSig{Guardian: 1, Sig: forged})), ErrGuardianQuorum},
			{"pause signature", change(next, append(configSigs(t, gs, s.id, &next, 0, 0), GuardianSig{Guardian: 1, Sig: pauseSig})), ErrGuardianQuorum},
			{"signed another config", change(next, configSigs(t, gs, s.id, &bigger, 0, 0, 1)), ErrGuardianQuorum},
			{"batch size changed", change(bigger, configSigs(t, gs, s.id, &bigger, 0, 0, 1)), ErrConfigImmutable},
			{"tree depth changed", change(deeper, configSigs(t, gs, s.id, &deeper, 0, 0, 1)), ErrConfigImmutable},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h.mustFail(tc.raw, tc.want)
				if r := h.rollup(s.id); r.Pending != nil || r.GuardianNonce != 0 {
					t.Fatalf("queued: %+v, guardian nonce %d", r.Pending, r.GuardianNonce)
				}
			})
		}
		ok := configSigs(t, gs, s.id, &next, 0, 1, 2)
		h.mustOK(change(next, ok))
		t.Run("replayed change", func(t *testing.T) {
			h.mustFail(change(next, ok), ErrBadGuardianNonce)
			if r := h.rollup(s.id); r.GuardianNonce != 1 || r.Pending == nil {
				t.Fatalf("guardian nonce %d, pending %+v", r.GuardianNonce, r.Pending)
			}
		})
	})
}
