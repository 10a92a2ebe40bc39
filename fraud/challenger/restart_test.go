package challenger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
)

// fraudKinds are the frauds a sequencer can post that L1 accepts and a challenge reverts (the
// kinds of settlement/fault.go but the two L1 rejects at submission), each made from three
// honest transactions. withdrawal-root and middle-root keep the honest new root: their honest
// repost has the root of the reverted batch.
var fraudKinds = []struct {
	name string
	lie  func(w *world, honest []l2.Tx) *batch
}{
	{"wrong-balance", func(w *world, h []l2.Tx) *batch {
		x := w.lie(h, unchecked)
		for k := 1; k < len(x.trace); k++ {
			x.trace[k] = elem(uint64(100 + k))
		}
		x.reseal(true)
		return x
	}},
	{"invalid-signature", func(w *world, h []l2.Tx) *batch {
		txs := slices.Clone(h)
		txs[2].Sig.S = elem(12345)
		return w.lie(txs, unchecked)
	}},
	{"nonce-replay", func(w *world, h []l2.Tx) *batch { return w.lie(append(slices.Clone(h), h[0]), unchecked) }},
	{"withdrawal-root", func(w *world, h []l2.Tx) *batch {
		x := w.lie(h, unchecked)
		x.c.WithdrawalRoot = elem(8)
		return x
	}},
	{"final-root", func(w *world, h []l2.Tx) *batch {
		x := w.lie(h, unchecked)
		x.c.NewRoot = elem(7)
		return x
	}},
	{"amount-overflow", func(w *world, h []l2.Tx) *batch {
		txs := slices.Clone(h)
		txs[1].Amount = overdraw // more than the balance
		w.sign(&txs[1])
		return w.lie(txs, unchecked)
	}},
	{"middle-root", func(w *world, h []l2.Tx) *batch {
		x := w.lie(h, unchecked)
		x.trace[1] = elem(42)
		x.reseal(false)
		return x
	}},
}

// overdraw is a withdraw amount beyond any account's balance (about 1,000 each) and within L2's
// supply (3,000): L1 refuses a batch whose withdrawals exceed the supply (docs/l1.md §5, "Proof of
// reserves"), so a withdraw L2 cannot pay reaches the challenge only under that.
const overdraw = 2000

var (
	unchecked = l2.ApplyOptions{ChainID: l2ChainID} // a sequencer that checks nothing
	checked   = l2.ApplyOptions{ChainID: l2ChainID, VerifySignatures: true}
)

// restartable is a challenger on a crash-faithful in-memory directory (vfs.NewStrictMem: what was
// not synced is lost in a crash), whose run ends at an armed kill point once.
type restartable struct {
	w        *world
	fs       *vfs.MemFS
	key      byte
	executor string
	ch       *challenger.Challenger
	armed    challenger.KillPoint
	kills    int
}

func (w *world) restartable(executor string, key byte) *restartable {
	r := &restartable{w: w, fs: vfs.NewStrictMem(), key: key, executor: executor}
	// The directory exists durably, as one an operator made: pebble syncs what it creates in it,
	// not its parent.
	if err := r.fs.MkdirAll("challenger", 0o755); err != nil {
		w.t.Fatal(err)
	}
	root, err := r.fs.OpenDir("")
	if err != nil {
		w.t.Fatal(err)
	}
	if err := errors.Join(root.Sync(), root.Close()); err != nil {
		w.t.Fatal(err)
	}
	r.open()
	w.t.Cleanup(func() { r.ch.Stop() })
	return r
}

func (r *restartable) open() {
	r.w.t.Helper()
	ch, err := challenger.New(r.w.ctx, challenger.Config{Dir: "challenger", FS: r.fs, Source: nodesource.New(r.w.node),
		Key: l1Key(r.key), L1ChainID: l1ChainID, RollupID: rollupID, Executor: r.executor,
		KillAt: func(p challenger.KillPoint) bool {
			if p != r.armed {
				return false
			}
			r.armed, r.kills = 0, r.kills+1
			return true
		}})
	if err != nil {
		r.w.t.Fatal(err)
	}
	r.ch = ch
}

// crash drops the challenger as a killed process would: its memory, and whatever it wrote without
// syncing; then a new one opens the same directory.
func (r *restartable) crash() {
	r.w.t.Helper()
	r.fs.SetIgnoreSyncs(true)
	if err := r.ch.Stop(); err != nil {
		r.w.t.Fatal(err)
	}
	r.fs.ResetToSyncedState()
	r.fs.SetIgnoreSyncs(false)
	r.open()
}

// step runs the challenger through the L1 head, restarting it after a kill.
func (r *restartable) step() {
	r.w.t.Helper()
	for {
		err := r.ch.Step(r.w.ctx)
		if errors.Is(err, challenger.ErrKilled) {
			r.crash()
			continue
		}
		if err != nil {
			r.w.t.Fatal(err)
		}
		return
	}
}

// honestTxs are three signed transactions between the world's first three accounts.
func (w *world) honestTxs() []l2.Tx {
	accs := w.state.Accounts()
	a, b, c := accs[0].Index, accs[1].Index, accs[2].Index
	return []l2.Tx{w.transfer(a, b, 5), w.withdraw(b, 3), w.transfer(c, a, 7)} // three senders: each at its next nonce
}

// fundedWorld is a world with three funded L2 accounts and one honest batch.
func fundedWorld(t *testing.T) *world { return fundedWorldJudged(t, fraud.Judge{}) }

func fundedWorldJudged(t *testing.T, judge chain.FraudJudge) *world {
	w := newWorldJudged(t, 3, judge)
	for s := range 3 {
		w.deposit(s, 1000)
	}
	w.blockOK()
	w.post(w.next(rand.New(rand.NewPCG(1, 2)), func(*l2.State) (l2.Tx, bool) { return l2.Tx{}, false }))
	w.blockOK()
	return w
}

// fraudRound posts fraud kind k and has it challenged (challengeRound).
func (w *world) fraudRound(k int, ours func() *challenger.Challenger, key byte, step func()) {
	w.t.Helper()
	honest := w.honestTxs()
	bad := fraudKinds[k].lie(w, honest)
	w.post(bad)
	w.blockOK()
	w.challengeRound(fraudKinds[k].name, bad, honest, ours, key, step)
}

// challengeRound runs the challengers (step runs every one watching) until L1 upholds a
// challenge of ours (key) against posted fraud bad, which must come inside the challenge window,
// then posts the honest batch of its transactions in its place and checks that ours agrees.
func (w *world) challengeRound(name string, bad *batch, honest []l2.Tx, ours func() *challenger.Challenger, key byte, step func()) {
	w.t.Helper()
	rec, err := w.node.Batch(rollupID, bad.c.BatchNumber)
	if err != nil {
		w.t.Fatal(err)
	}
	upheld := false
	for !upheld {
		step()
		r := w.block()
		if r.Header.Height >= rec.FinalizeAt {
			w.t.Fatalf("%s: batch %d not reverted inside its window (final at %d)", name, bad.c.BatchNumber, rec.FinalizeAt)
		}
		for _, e := range r.Events {
			if e.Kind == chain.EventChallengeUpheld && e.Number == bad.c.BatchNumber {
				if e.Address != l1Key(key).Address() {
					w.t.Fatalf("%s: upheld challenge by %s, not ours", name, e.Address)
				}
				upheld = true
			}
		}
	}
	w.revert(bad)
	w.post(w.lie(honest, checked))
	w.blockOK()
	step()
	if st := ours().Status(); st.Agreed != w.number || st.Challenged != 0 || len(st.Waiting) != 0 || ours().Ready() != nil {
		w.t.Fatalf("%s: after the honest repost: %+v, ready: %v", name, st, ours().Ready())
	}
}

// TestChallengerRestartAtEveryPoint (issue 12): a challenger killed at every step of handling a
// fraud — after detection, before and after its cursor write, after sending, after L1's upheld
// event — and restarted on its directory still gets the fraud upheld within the window, on one
// nonce (no second challenge signed for it), and agrees with the honest repost (for middle-root,
// the same new root). Then a challenger with an empty directory, started on a chain where a fraud
// of every kind was upheld, catches up, is ready, and gets every later fraud upheld.
func TestChallengerRestartAtEveryPoint(t *testing.T) {
	points := []struct {
		name string
		p    challenger.KillPoint
	}{
		{"after detection", challenger.KillAfterDetect},
		{"before the cursor write", challenger.KillBeforeCursorWrite},
		{"after the cursor write", challenger.KillAfterCursorWrite},
		{"after sending", challenger.KillAfterSend},
		{"after the upheld event", challenger.KillAfterUpheld},
	}
	middle, balance := len(fraudKinds)-1, 0
	for i, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			w := fundedWorld(t)
			r := w.restartable(executors[i%2], 3)
			r.step()
			for round, k := range []int{middle, balance} {
				r.armed = pt.p
				w.fraudRound(k, func() *challenger.Challenger { return r.ch }, 3, r.step)
				if r.kills != round+1 {
					t.Fatalf("round %d: killed %d times at %q", round, r.kills, pt.name)
				}
			}
			acct, err := w.node.Account(l1Key(3).Address())
			if err != nil {
				t.Fatal(err)
			}
			if acct.Nonce != 2 {
				t.Fatalf("the challenger used %d nonces for 2 challenges", acct.Nonce)
			}
		})
	}
	t.Run("empty directory on upheld frauds of every kind", func(t *testing.T) {
		w := fundedWorld(t)
		witness := w.challenger(challenger.ExecutorCore, 4, "")
		stepWitness := func() {
			if err := witness.Step(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
		for k := range fraudKinds {
			w.fraudRound(k, func() *challenger.Challenger { return witness }, 4, stepWitness)
		}
		for _, exec := range executors {
			fresh := w.challenger(exec, 5, "")
			if err := fresh.Step(w.ctx); err != nil {
				t.Fatal(err)
			}
			head, err := w.node.Status()
			if err != nil {
				t.Fatal(err)
			}
			st := fresh.Status()
			if st.Agreed != w.number || st.Cursor != head.Height+1 || st.Challenges != 0 || st.Errors != 0 || fresh.Ready() != nil {
				t.Fatalf("%s challenger from an empty directory: %+v (head %d), ready: %v", exec, st, head.Height, fresh.Ready())
			}
			if err := fresh.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		fresh := w.challenger(challenger.ExecutorCore, 5, "")
		for k := range fraudKinds {
			w.fraudRound(k, func() *challenger.Challenger { return fresh }, 5, func() {
				if err := fresh.Step(w.ctx); err != nil {
					t.Fatal(fmt.Errorf("%s: %w", fraudKinds[k].name, err))
				}
			})
		}
		if st := fresh.Status(); st.Upheld != len(fraudKinds) {
			t.Fatalf("%d of %d challenges upheld: %+v", st.Upheld, len(fraudKinds), st)
		}
	})
}

// TestChallengeSignedAgainWhenItsNonceIsTaken: another transaction of the challenger's key (an
// L1 transfer its operator sent) reaches the mempool first on the nonce the challenge was signed
// with, so the mempool refuses the challenge (nonce taken). The challenger sees its nonce used with
// the batch still pending, signs the challenge again on the next nonce, and L1 upholds it inside
// the window.
func TestChallengeSignedAgainWhenItsNonceIsTaken(t *testing.T) {
	w := fundedWorld(t)
	ch := w.challenger(challenger.ExecutorCore, 3, "")
	step := func() {
		if err := ch.Step(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	honest := w.honestTxs()
	bad := fraudKinds[len(fraudKinds)-1].lie(w, honest)
	w.post(bad)
	w.blockOK()
	w.send(l1Key(3), chain.TxTransfer, &chain.Transfer{To: w.user.Address(), Amount: 1}) // nonce 0, first in the mempool
	w.challengeRound("middle-root", bad, honest, func() *challenger.Challenger { return ch }, 3, step)
	acct, err := w.node.Account(l1Key(3).Address())
	if err != nil {
		t.Fatal(err)
	}
	if st := ch.Status(); acct.Nonce != 2 || st.Challenges != 2 || st.Upheld != 1 {
		t.Fatalf("L1 nonce %d (want 2: the transfer and the upheld challenge; the first was refused), status %+v", acct.Nonce, st)
	}
}
