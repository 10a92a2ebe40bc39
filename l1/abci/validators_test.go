package abci

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// TestFourValidators runs 4 in-process CometBFT validators on loopback over l1/chain: blocks
// commit with identical headers (so app hashes) on every validator, a transaction sent to one
// validator's mempool lands on all, every height gets a quorum certificate of ML-DSA-65 votes
// that verifies against the pinned validator set, and with one validator stopped the other
// three go on committing and certifying.
func TestFourValidators(t *testing.T) {
	tn := newTestNet(t, 4)
	pinned, _, err := validatorSet(tn.vals) // what a client pins from genesis
	if err != nil {
		t.Fatal(err)
	}
	tn.waitHeight(3, 40*time.Second)

	to := common.HexToAddress("0x5151")
	// Submitted as the QUIC API does (node.SubmitTx, relayed to CometBFT's mempool).
	start, h0 := time.Now(), tn.minHeight()
	if _, err := tn.nodes[2].n.SubmitTx(tn.transfer(0, to, 500)); err != nil {
		t.Fatal(err)
	}
	tn.waitBalance(to, 500, 30*time.Second)
	h := tn.minHeight()
	t.Logf("a transfer committed on all 4 validators %v after its submission; %d blocks meanwhile", time.Since(start).Round(time.Millisecond), h-h0)

	tn.checkAgreement(h)
	tn.checkCertificates(pinned, h, 3)

	if err := tn.stop(3); err != nil {
		t.Fatal(err)
	}
	h = tn.minHeight()
	tn.waitHeight(h+5, 40*time.Second)
	if _, err := tn.nodes[0].n.SubmitTx(tn.transfer(1, to, 250)); err != nil {
		t.Fatal(err)
	}
	tn.waitBalance(to, 750, 30*time.Second)
	h = tn.minHeight()
	tn.checkAgreement(h)
	tn.checkCertificates(pinned, h, 3)
}

// minHeight is the lowest committed height among the running validators.
func (tn *testNet) minHeight() uint64 {
	low := ^uint64(0)
	for i, v := range tn.nodes {
		if v.n != nil {
			low = min(low, tn.height(i))
		}
	}
	return low
}

// waitBalance polls until a's balance is want on every running validator.
func (tn *testNet) waitBalance(a common.Address, want uint64, within time.Duration) {
	tn.t.Helper()
	deadline := time.Now().Add(within)
	for {
		done := true
		for i, v := range tn.nodes {
			if v.n == nil {
				continue
			}
			acct, err := v.n.Account(a)
			if err != nil {
				tn.t.Fatalf("validator %d: %v", i, err)
			}
			done = done && acct.Balance == want
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			tn.t.Fatalf("balance of %s is not %d on every validator within %v", a, want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAgreement checks that the running validators hold the same blocks 1..h (header hashes,
// so state roots, the app hashes).
func (tn *testNet) checkAgreement(h uint64) {
	tn.t.Helper()
	for height := uint64(1); height <= h; height++ {
		var want common.Hash
		for i, v := range tn.nodes {
			if v.n == nil {
				continue
			}
			b, err := v.n.Block(height)
			if err != nil {
				tn.t.Fatalf("validator %d, block %d: %v", i, height, err)
			}
			if want == (common.Hash{}) {
				want = b.Header.Hash()
			} else if b.Header.Hash() != want {
				tn.t.Fatalf("validator %d holds block %d %s, another validator %s", i, height, b.Header.Hash(), want)
			}
		}
	}
}

// checkCertificates checks on every running validator that heights 0..h-2 (the last whose
// certificate block has committed) have a certificate that verifies against the pinned set and
// the validator's own state root, and that the last one has at least minVotes votes.
func (tn *testNet) checkCertificates(pinned *qc.ValidatorSet, h uint64, minVotes int) {
	tn.t.Helper()
	if h < 2 {
		tn.t.Fatalf("height %d has no certificate yet", h)
	}
	for i, v := range tn.nodes {
		if v.n == nil {
			continue
		}
		for height := uint64(0); height <= h-2; height++ {
			c, err := v.app.Certificate(height)
			if err != nil {
				tn.t.Fatalf("validator %d: %v", i, err)
			}
			b, err := v.n.Block(height)
			if err != nil {
				tn.t.Fatal(err)
			}
			if err := c.Verify(pinned, testChainID, height, b.Header.StateRoot); err != nil {
				tn.t.Fatalf("validator %d, certificate of height %d: %v", i, height, err)
			}
			if height == h-2 && len(c.Votes) < minVotes {
				tn.t.Fatalf("validator %d: certificate of height %d has %d votes, want at least %d", i, height, len(c.Votes), minVotes)
			}
		}
	}
}

// TestValidatorsHaltAndResume: with two of four validators stopped no block commits (the two
// left prevote at the next height and get no further) and no certificate appears; after they
// restart, one of them on an empty L1 datadir that CometBFT's handshake replays every block
// into, the chain resumes with identical blocks and certificates on all four.
func TestValidatorsHaltAndResume(t *testing.T) {
	tn := newTestNet(t, 4)
	pinned, _, err := validatorSet(tn.vals)
	if err != nil {
		t.Fatal(err)
	}
	tn.waitHeight(3, 40*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	sub, err := tn.nodes[0].cmt.EventBus().Subscribe(ctx, "halt-test", types.EventQueryVote, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{2, 3} {
		if err := tn.stop(i); err != nil {
			t.Fatal(err)
		}
	}
	stuck := tn.waitPrevotes(ctx, sub, tn.height(0)+1)
	for _, i := range []int{0, 1} {
		if h := tn.height(i); h != stuck-1 {
			t.Fatalf("validator %d is at height %d with half the stake up; want %d", i, h, stuck-1)
		}
		if _, err := tn.nodes[i].app.Certificate(stuck - 2); err == nil {
			t.Fatalf("validator %d holds a certificate of height %d, whose block was never decided", i, stuck-2)
		}
	}

	if err := os.RemoveAll(filepath.Join(tn.nodes[2].dir, "l1")); err != nil {
		t.Fatal(err)
	}
	tn.restart(2) // CometBFT replays blocks 1..stuck-1 into the empty chain
	tn.restart(3)
	tn.waitHeight(stuck+3, 40*time.Second)
	h := tn.minHeight()
	tn.checkAgreement(h)
	tn.checkCertificates(pinned, h, 3)
}

// waitPrevotes reads vote events until validators 0 and 1 have both prevoted at a height of at
// least from, and returns that height.
func (tn *testNet) waitPrevotes(ctx context.Context, sub types.Subscription, from uint64) uint64 {
	tn.t.Helper()
	want := map[string]bool{}
	for _, i := range []int{0, 1} {
		want[string(tn.nodes[i].comet.ConsensusKey.PubKey().Address())] = true
	}
	seen := map[int64]map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			tn.t.Fatalf("validators 0 and 1 did not both prevote at a height from %d: %v", from, ctx.Err())
		case <-sub.Canceled():
			tn.t.Fatalf("vote subscription canceled: %v", sub.Err())
		case m := <-sub.Out():
			ev, ok := m.Data().(types.EventDataVote)
			if !ok || ev.Vote.Type != types.PrevoteType || ev.Vote.Height < int64(from) || !want[string(ev.Vote.ValidatorAddress)] {
				continue
			}
			if seen[ev.Vote.Height] == nil {
				seen[ev.Vote.Height] = map[string]bool{}
			}
			seen[ev.Vote.Height][string(ev.Vote.ValidatorAddress)] = true
			if len(seen[ev.Vote.Height]) == len(want) {
				return uint64(ev.Vote.Height)
			}
		}
	}
}
