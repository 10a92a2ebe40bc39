package fraud_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// lie posts txs as a sequencer that executes them correctly except that after step k it
// continues from corrupt(state) instead: trace[k] and everything after it derive from the
// corrupted state. The withdrawal root is the honest one.
func lie(t testing.TB, pre *l2.State, txs []l2.Tx, k int, corrupt func(*l2.State) *l2.State) *posted {
	t.Helper()
	s := pre.Clone()
	trace := make([]fr.Element, len(txs))
	for j := range txs {
		s.Apply(&txs[j], signOpts)
		if j == k {
			s = corrupt(s)
		}
		trace[j] = s.Root()
	}
	honest := pre.Clone().ApplyBatch(txs, signOpts)
	return seal(t, pre, l2.EncodeBatch(txs), trace, trace[len(trace)-1], honest.WithdrawalRoot)
}

// TestFraudClasses: for each way a batch can be wrong, Build finds the fault where it is and
// the judge upholds the proof.
func TestFraudClasses(t *testing.T) {
	const max = math.MaxUint64
	w := newWorld(t, 4, 1000, 500, max-10)
	pre := w.state
	unsigned := l2.ApplyOptions{ChainID: testChainID} // a sequencer that skips signature checks
	badSig := w.transfer(1, 2, 10, 0)
	badSig.Sig.S = elem(12345)
	wrongKey := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 10}
	w.signers[1].Sign(testChainID, &wrongKey, l2test.TorsionPoint(1)) // signed by account 2's key
	otherChain := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 10}
	w.signers[0].Sign(testChainID+1, &otherChain, l2test.TorsionPoint(1))
	replayed := w.transfer(1, 2, 100, 0)
	honest := []l2.Tx{w.transfer(1, 2, 100, 0), w.transfer(2, 1, 50, 0), w.withdraw(1, 30, 1), w.withdraw(2, 5, 1), {}}
	depositOverflow := l2.Tx{Type: l2.TxDeposit, From: 2, Amount: max - 400, PubKey: w.signers[1].Public()}

	cases := []struct {
		name     string
		batch    func() *posted
		kind     fraud.Kind
		step     uint64
		statusOK bool // the faulty step's transaction succeeds (the fault is its root)
	}{
		{"wrong balance arithmetic", func() *posted {
			// Step 1 credits account 1 with 51 instead of 50.
			return lie(t, pre, honest, 1, func(s *l2.State) *l2.State {
				a, _ := s.Account(1)
				return withBalance(t, s, 1, a.Balance+1)
			})
		}, fraud.KindStep, 1, true},
		{"first step wrong", func() *posted {
			return lie(t, pre, honest, 0, func(s *l2.State) *l2.State {
				a, _ := s.Account(2)
				return withBalance(t, s, 2, a.Balance-1)
			})
		}, fraud.KindStep, 0, true},
		{"wrong root in the middle of the trace", func() *posted {
			b := commit(t, pre, honest, signOpts)
			b.trace[2] = elem(42)
			return seal(t, pre, b.data, b.trace, b.c.NewRoot, b.c.WithdrawalRoot)
		}, fraud.KindStep, 2, true},
		{"last step wrong", func() *posted {
			b := commit(t, pre, honest, signOpts)
			b.trace[4] = elem(43)
			return seal(t, pre, b.data, b.trace, elem(43), b.c.WithdrawalRoot)
		}, fraud.KindStep, 4, true},
		{"bad signature (S) included", func() *posted {
			return commit(t, pre, []l2.Tx{honest[0], badSig}, unsigned)
		}, fraud.KindStep, 1, false},
		{"signature by another key included", func() *posted {
			return commit(t, pre, []l2.Tx{wrongKey}, unsigned)
		}, fraud.KindStep, 0, false},
		{"signature for another chain included", func() *posted {
			return commit(t, pre, []l2.Tx{{}, otherChain}, unsigned)
		}, fraud.KindStep, 1, false},
		{"nonce replay, left unapplied", func() *posted {
			return commit(t, pre, []l2.Tx{honest[0], honest[1], replayed}, signOpts)
		}, fraud.KindStep, 2, false},
		{"nonce replay, applied", func() *posted {
			// The sequencer moves the 100 again and bumps the nonce, as if the nonce were fresh.
			return lie(t, pre, []l2.Tx{honest[0], replayed}, 1, func(s *l2.State) *l2.State {
				a1, _ := s.Account(1)
				a2, _ := s.Account(2)
				return withBalance(t, withBalance(t, s, 1, a1.Balance-100), 2, a2.Balance+100)
			})
		}, fraud.KindStep, 1, false},
		{"deposit amount overflow, wrapped", func() *posted {
			return lie(t, pre, []l2.Tx{honest[0], depositOverflow}, 1, func(s *l2.State) *l2.State {
				a, _ := s.Account(2)
				return withBalance(t, s, 2, a.Balance+(max-400)) // wraps mod 2^64
			})
		}, fraud.KindStep, 1, false},
		{"transfer amount overflow, wrapped", func() *posted {
			tx := w.transfer(1, 3, 20, 0)
			return lie(t, pre, []l2.Tx{tx}, 0, func(s *l2.State) *l2.State {
				return withBalance(t, s, 3, 9) // (2^64-1-10) + 20 wrapped mod 2^64
			})
		}, fraud.KindStep, 0, false},
		{"transfer amount overflow, left unapplied", func() *posted {
			return commit(t, pre, []l2.Tx{{}, w.transfer(1, 3, 20, 0)}, signOpts)
		}, fraud.KindStep, 1, false},
		{"insufficient balance", func() *posted {
			return commit(t, pre, []l2.Tx{w.withdraw(2, 501, 0)}, signOpts)
		}, fraud.KindStep, 0, false},
		{"recipient not found", func() *posted {
			return commit(t, pre, []l2.Tx{w.transfer(1, 9, 1, 0)}, signOpts)
		}, fraud.KindStep, 0, false},
		{"sender not found", func() *posted {
			return commit(t, pre, []l2.Tx{{Type: l2.TxWithdraw, From: 12}}, signOpts)
		}, fraud.KindStep, 0, false},
		{"index out of range", func() *posted {
			return commit(t, pre, []l2.Tx{{Type: l2.TxDeposit, From: 16, Amount: 1, PubKey: w.signers[0].Public()}}, signOpts)
		}, fraud.KindStep, 0, false},
		{"deposit with another key", func() *posted {
			return commit(t, pre, []l2.Tx{{Type: l2.TxDeposit, From: 1, Amount: 1, PubKey: w.signers[1].Public()}}, signOpts)
		}, fraud.KindStep, 0, false},
		{"claimed final root is not the last trace entry", func() *posted {
			b := commit(t, pre, honest, signOpts)
			return seal(t, pre, b.data, b.trace, b.trace[1], b.c.WithdrawalRoot)
		}, fraud.KindFinalRoot, 4, true},
		{"wrong withdrawal root: amount", func() *posted {
			b := commit(t, pre, honest, signOpts)
			leaves := make([]fr.Element, len(honest))
			leaves[2] = l2.WithdrawalLeaf(honest[2].Address, honest[2].Amount+1)
			leaves[3] = l2.WithdrawalLeaf(honest[3].Address, honest[3].Amount)
			return seal(t, pre, b.data, b.trace, b.c.NewRoot, l2.ListRoot(leaves))
		}, fraud.KindWithdrawalRoot, 0, true},
		{"wrong withdrawal root: withdrawal left out", func() *posted {
			b := commit(t, pre, honest, signOpts)
			return seal(t, pre, b.data, b.trace, b.c.NewRoot, l2.ListRoot(nil))
		}, fraud.KindWithdrawalRoot, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.batch()
			p, err := b.build()
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if p.Kind != tc.kind || p.Step != tc.step || p.Batch != testBatch {
				t.Fatalf("proof %s at step %d of batch %d, want %s at step %d", p.Kind, p.Step, p.Batch, tc.kind, tc.step)
			}
			if p.Kind == fraud.KindStep {
				txs, _ := l2.DecodeBatch(b.data)
				st := b.pre.Clone().ApplyBatch(txs[:p.Step+1], signOpts).Statuses[p.Step]
				if (st == l2.StatusOK) != tc.statusOK {
					t.Fatalf("faulty step has status %s", st)
				}
			}
			enc := p.Encode()
			if len(enc) > fraud.MaxProofSize {
				t.Fatalf("proof of %d bytes", len(enc))
			}
			if q, err := fraud.Decode(enc); err != nil || !bytes.Equal(q.Encode(), enc) {
				t.Fatalf("round trip: %v", err)
			}
			if ok, err := b.judge(enc); !ok || err != nil {
				t.Fatalf("judge: %v, %v", ok, err)
			}
		})
	}
}

// TestFailingTransactionsAreFraud: a batch executed by the rules but holding a failing
// transaction, of any status, is proven at its first failing transaction.
func TestFailingTransactionsAreFraud(t *testing.T) {
	gen := l2test.NewRandomBatches(3, 4)
	state, _ := l2.NewState(4)
	seen := map[l2.Status]bool{}
	for range 60 {
		data := gen.Next(8)
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		b := commit(t, state, txs, signOpts)
		r := state.Clone().ApplyBatch(txs, signOpts)
		first := -1
		for k, st := range r.Statuses {
			if st != l2.StatusOK {
				first = k
				break
			}
		}
		p, err := b.build()
		switch {
		case first < 0:
			if !errors.Is(err, fraud.ErrNoFraud) {
				t.Fatalf("all succeed, Build: %v %v", p, err)
			}
		case err != nil:
			t.Fatalf("Build: %v", err)
		case p.Kind != fraud.KindStep || p.Step != uint64(first):
			t.Fatalf("proof %s at %d, first failure at %d (%s)", p.Kind, p.Step, first, r.Statuses[first])
		default:
			seen[r.Statuses[first]] = true
			if ok, err := b.judge(p.Encode()); !ok || err != nil {
				t.Fatalf("%s at %d: judge %v %v", r.Statuses[first], first, ok, err)
			}
		}
		// Continue from the state the rules give, failures skipped, signatures unchecked, so
		// that later batches reach more statuses than bad_signature.
		state.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID})
	}
	if len(seen) < 5 {
		t.Fatalf("statuses proven: %v", seen)
	}
}

// TestBuildFrom: started at any step up to the first fault, from the state before it, BuildFrom
// gives Build's answer (from n, with no state, once every step is right), and it refuses a state
// that is not at the trace entry before its step.
func TestBuildFrom(t *testing.T) {
	gen := l2test.NewRandomBatches(9, 4)
	state, _ := l2.NewState(4)
	for i := range 60 {
		txs, err := l2.DecodeBatch(gen.Next(6))
		if err != nil {
			t.Fatal(err)
		}
		unsigned := l2.ApplyOptions{ChainID: testChainID}
		b := commit(t, state, txs, unsigned) // failing transactions kept: their step is the fault
		switch i % 3 {
		case 1:
			b.c.NewRoot = elem(5)
		case 2:
			b.c.WithdrawalRoot = elem(6)
		}
		want, wantErr := b.build()
		first := len(txs)
		if wantErr == nil && want.Kind == fraud.KindStep {
			first = int(want.Step)
		}
		s := state.Clone()
		for k := 0; k <= first; k++ {
			var pre *l2.State
			if k < len(txs) {
				pre = s.Clone() // BuildFrom executes on it
			}
			got, err := fraud.BuildFrom(pre, &b.c, b.data, b.trace, k, nil)
			if !errors.Is(err, wantErr) || (err == nil && !bytes.Equal(got.Encode(), want.Encode())) {
				t.Fatalf("batch %d from step %d: %+v %v, Build: %+v %v", i, k, got, err, want, wantErr)
			}
			if k < len(txs) {
				if root := state.Root(); k > 0 && !root.Equal(&b.trace[k-1]) {
					if _, err := fraud.BuildFrom(state.Clone(), &b.c, b.data, b.trace, k, nil); err == nil || errors.Is(err, fraud.ErrNoFraud) {
						t.Fatalf("batch %d from step %d on the state before the batch: %v", i, k, err)
					}
				}
				s.Apply(&txs[k], signOpts)
			}
		}
		state.ApplyBatch(txs, unsigned)
	}
	if _, err := fraud.BuildFrom(nil, &l2.Commitment{}, nil, nil, 1, nil); err == nil {
		t.Fatal("BuildFrom of no batch")
	}
}

// TestJudgeRejectsTamperedProofs: a valid proof against a fraudulent batch, changed in any part
// that matters, or judged against the wrong case, is rejected with an error.
func TestJudgeRejectsTamperedProofs(t *testing.T) {
	w := newWorld(t, 4, 1000, 500, 20)
	txs := []l2.Tx{w.transfer(1, 2, 100, 0), w.transfer(2, 3, 50, 0), w.withdraw(1, 30, 1)}
	b := commit(t, w.state, txs, signOpts)
	b.trace[1] = elem(7)
	b = seal(t, w.state, b.data, b.trace, b.c.NewRoot, b.c.WithdrawalRoot)
	p, err := b.build()
	if err != nil || p.Kind != fraud.KindStep || p.Step != 1 || len(p.Accounts) != 2 {
		t.Fatalf("Build: %+v %v", p, err)
	}
	if ok, err := b.judge(p.Encode()); !ok || err != nil {
		t.Fatalf("untampered proof: %v %v", ok, err)
	}
	wrongRoot := b.trace[1].Bytes()
	clone := func() *fraud.Proof {
		q, err := fraud.Decode(p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	enc := func(f func(q *fraud.Proof)) []byte { q := clone(); f(q); return q.Encode() }
	cases := []struct {
		name  string
		proof []byte
		c     func(c *fraud.Case)
		want  error
	}{
		{"other batch", enc(func(q *fraud.Proof) { q.Batch++ }), nil, fraud.ErrMismatch},
		{"other step", enc(func(q *fraud.Proof) { q.Step = 2 }), nil, fraud.ErrMismatch},
		{"step beyond the batch", enc(func(q *fraud.Proof) { q.Step = 3 }), nil, fraud.ErrMismatch},
		{"prev root not in the trace", enc(func(q *fraud.Proof) { q.PrevRoot = elem(1) }), nil, fraud.ErrMismatch},
		{"prev sibling", enc(func(q *fraud.Proof) { q.PrevSiblings[3] = elem(1) }), nil, fraud.ErrMismatch},
		{"next root not in the trace", enc(func(q *fraud.Proof) { q.NextRoot = elem(8) }), nil, fraud.ErrMismatch},
		{"next sibling", enc(func(q *fraud.Proof) { q.NextSiblings[0] = elem(1) }), nil, fraud.ErrMismatch},
		{"account balance", enc(func(q *fraud.Proof) { q.Accounts[0].Account.Balance++ }), nil, fraud.ErrMismatch},
		{"account nonce", enc(func(q *fraud.Proof) { q.Accounts[1].Account.Nonce++ }), nil, fraud.ErrMismatch},
		{"account claimed empty", enc(func(q *fraud.Proof) {
			q.Accounts[1].Exists, q.Accounts[1].Account = false, l2.Account{}
		}), nil, fraud.ErrMismatch},
		{"account sibling", enc(func(q *fraud.Proof) { q.Accounts[0].Siblings[2] = elem(5) }), nil, fraud.ErrMismatch},
		{"accounts swapped", enc(func(q *fraud.Proof) { q.Accounts[0], q.Accounts[1] = q.Accounts[1], q.Accounts[0] }), nil, fraud.ErrMismatch},
		{"recipient left out", enc(func(q *fraud.Proof) { q.Accounts = q.Accounts[:1] }), nil, fraud.ErrMismatch},
		{"no accounts", enc(func(q *fraud.Proof) { q.Accounts = nil }), nil, fraud.ErrMismatch},
		{"short account witness", enc(func(q *fraud.Proof) { q.Accounts[0].Siblings = q.Accounts[0].Siblings[1:] }), nil, fraud.ErrMismatch},
		{"step 0 with a prev witness", enc(func(q *fraud.Proof) { q.Step = 0 }), nil, fraud.ErrMalformed},
		{"missing prev witness", enc(func(q *fraud.Proof) { q.PrevSiblings = nil }), nil, fraud.ErrMalformed},
		{"short next witness", enc(func(q *fraud.Proof) { q.NextSiblings = q.NextSiblings[:11] }), nil, fraud.ErrMalformed},
		{"as a final root proof", enc(func(q *fraud.Proof) { q.Kind = fraud.KindFinalRoot }), nil, fraud.ErrMalformed},
		{"as a withdrawal root proof", enc(func(q *fraud.Proof) { q.Kind = fraud.KindWithdrawalRoot }), nil, fraud.ErrMalformed},
		{"unknown kind", enc(func(q *fraud.Proof) { q.Kind = 9 }), nil, fraud.ErrMalformed},
		{"trailing byte", append(p.Encode(), 0), nil, fraud.ErrMalformed},
		{"truncated", p.Encode()[:100], nil, fraud.ErrMalformed},
		{"oversized", make([]byte, fraud.MaxProofSize+1), nil, fraud.ErrMalformed},
		{"empty", nil, nil, fraud.ErrMalformed},
		{"non-canonical root", bytes.Replace(p.Encode(), wrongRoot[:], bytes.Repeat([]byte{0xff}, 32), 1), nil, fraud.ErrMalformed},
		{"other depth", p.Encode(), func(c *fraud.Case) { c.TreeDepth = 5 }, fraud.ErrMismatch},
		{"depth outside the limits", p.Encode(), func(c *fraud.Case) { c.TreeDepth = 40 }, fraud.ErrMismatch},
		{"other chain", p.Encode(), func(c *fraud.Case) { c.L2ChainID++ }, fraud.ErrMismatch},
		{"data not a whole record", p.Encode(), func(c *fraud.Case) { c.Data = c.Data[1:] }, fraud.ErrMismatch},
		{"data of another count", p.Encode(), func(c *fraud.Case) { c.Data = c.Data[:2*l2.TxSize] }, fraud.ErrMismatch},
		{"no data", p.Encode(), func(c *fraud.Case) { c.Data = nil }, fraud.ErrMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := b.fraudCase(tc.proof)
			if tc.c != nil {
				tc.c(c)
			}
			ok, err := fraud.Judge{}.Judge(c)
			if ok || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want false, %v", ok, err, tc.want)
			}
		})
	}
}

// TestBuildRejectsForeignInputs: Build proves nothing from inputs that are not the batch's.
func TestBuildRejectsForeignInputs(t *testing.T) {
	w := newWorld(t, 4, 1000, 500)
	txs := []l2.Tx{w.transfer(1, 2, 100, 0), w.withdraw(2, 5, 0)}
	b := commit(t, w.state, txs, signOpts)
	if _, err := b.build(); !errors.Is(err, fraud.ErrNoFraud) {
		t.Fatalf("honest batch: %v", err)
	}
	other := newWorld(t, 4, 1000, 501).state
	cases := map[string]func() error{
		"state at another root": func() error { _, err := fraud.Build(other, &b.c, b.data, b.trace, nil); return err },
		"other data": func() error {
			_, err := fraud.Build(b.pre.Clone(), &b.c, l2.EncodeBatch(txs[:1]), b.trace[:1], nil)
			return err
		},
		"other trace": func() error {
			tr := []fr.Element{b.trace[0], elem(1)}
			_, err := fraud.Build(b.pre.Clone(), &b.c, b.data, tr, nil)
			return err
		},
		"short trace":    func() error { _, err := fraud.Build(b.pre.Clone(), &b.c, b.data, b.trace[:1], nil); return err },
		"malformed data": func() error { _, err := fraud.Build(b.pre.Clone(), &b.c, b.data[1:], b.trace, nil); return err },
	}
	for name, f := range cases {
		if err := f(); err == nil || errors.Is(err, fraud.ErrNoFraud) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMaxProofSize: the largest proof, a transfer at depth 32, fits MaxProofSize.
func TestMaxProofSize(t *testing.T) {
	w := newWorld(t, 32, math.MaxUint64/2, math.MaxUint64/2)
	txs := make([]l2.Tx, 0, l2.MaxBatchTxs)
	for range l2.MaxBatchTxs - 1 {
		txs = append(txs, l2.Tx{})
	}
	txs = append(txs, w.transfer(1, 2, math.MaxUint64/2, math.MaxUint64-1))
	b := commit(t, w.state, txs, l2.ApplyOptions{ChainID: testChainID})
	p, err := b.build()
	if err != nil || p.Kind != fraud.KindStep || len(p.Accounts) != 2 {
		t.Fatalf("Build: %+v, %v", p, err)
	}
	p.Batch, p.Step = math.MaxUint64, math.MaxUint64
	for i := range p.Accounts {
		p.Accounts[i].Index = math.MaxUint32
		p.Accounts[i].Account.Nonce = math.MaxUint64
		p.Accounts[i].Account.Balance = math.MaxUint64
	}
	if n := len(p.Encode()); n > fraud.MaxProofSize {
		t.Fatalf("largest proof is %d bytes, MaxProofSize %d", n, fraud.MaxProofSize)
	} else {
		t.Logf("largest proof: %d bytes", n)
	}
}
