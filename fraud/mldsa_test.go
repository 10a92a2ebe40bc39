package fraud_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/fraudtest"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

func mldsaKey(seed byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x17, 1: seed})
}

// pqWorld is a world whose accounts 1 and 2 are EdDSA and whose account 3 is ML-DSA (key pq),
// with the KeyBook that knows pq.
type pqWorld struct {
	*world
	pq   *pqkey.PrivateKey
	keys l2.KeyMap
}

func newPQWorld(t testing.TB, depth int) *pqWorld {
	t.Helper()
	w := &pqWorld{world: newWorld(t, depth, 1<<40, 1<<40), pq: mldsaKey(1), keys: l2.KeyMap{}}
	pk := w.keys.Add(w.pq.Public().Bytes())
	dep := []l2.Tx{{Type: l2.TxDeposit, From: 3, Amount: 1 << 40, PubKey: pk}}
	if r := w.state.ApplyBatch(dep, signOpts); r.Rejected != 0 {
		t.Fatalf("setup: %v", r.Statuses)
	}
	return w
}

// pqTransfer is a type 5 transfer from account 3 signed with key k (w.pq for a valid one).
func (w *pqWorld) pqTransfer(t testing.TB, k *pqkey.PrivateKey, to uint32, amount, nonce uint64) l2.Tx {
	t.Helper()
	tx := l2.Tx{Type: l2.TxTransferMLDSA, From: 3, To: to, Amount: amount, Nonce: nonce}
	if _, err := l2.SignMLDSA(k, testChainID, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

func (w *pqWorld) pqWithdraw(t testing.TB, amount, nonce uint64) l2.Tx {
	t.Helper()
	tx := l2.Tx{Type: l2.TxWithdrawMLDSA, From: 3, Amount: amount, Nonce: nonce, Address: [20]byte{0: 0xee, 19: 3}}
	if _, err := l2.SignMLDSA(w.pq, testChainID, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

func (w *pqWorld) opts() l2.ApplyOptions {
	o := signOpts
	o.Keys = w.keys
	return o
}

func TestJudgeMLDSA(t *testing.T) {
	w := newPQWorld(t, 4)
	honestTxs := []l2.Tx{w.transfer(1, 3, 5, 0), w.pqTransfer(t, w.pq, 1, 10, 0), w.pqWithdraw(t, 7, 1)}
	honest := commit(t, w.state, honestTxs, w.opts())
	if _, err := fraud.Build(honest.pre.Clone(), &honest.c, honest.data, honest.trace, w.keys); !errors.Is(err, fraud.ErrNoFraud) {
		t.Fatalf("honest ML-DSA batch: %v, want ErrNoFraud", err)
	}
	// A step proof of an honest ML-DSA step (a wrong trace entry after it makes one buildable)
	// re-executes to trace[k]: not fraud.
	wrongAfter := *honest
	wrongAfter.trace = append(append([]fr.Element{}, honest.trace[:2]...), elem(1))
	wb := seal(t, w.state, honest.data, wrongAfter.trace, honest.c.NewRoot, honest.c.WithdrawalRoot)
	p, err := fraud.Build(wb.pre.Clone(), &wb.c, wb.data, wb.trace, w.keys)
	if err != nil || p.Kind != fraud.KindStep || p.Step != 2 || len(p.MLDSAPub) != l2.MLDSAPubSize {
		t.Fatalf("Build: %+v, %v", p, err)
	}
	if ok, err := wb.judge(p.Encode()); !ok || err != nil {
		t.Fatalf("wrong root after an ML-DSA withdraw: %v, %v", ok, err)
	}
	p1, err := fraud.BuildFrom(nil, &wb.c, wb.data, wb.trace, 3, w.keys) // no step left: final-root check only
	if err != nil || p1.Kind != fraud.KindFinalRoot {
		t.Fatalf("BuildFrom(3): %+v, %v", p1, err)
	}

	// A forged signature: record 1 signed by another key, its digest w2 (L1's availability check
	// passes); the sequencer did not verify it.
	forgedTxs := []l2.Tx{w.transfer(1, 3, 5, 0), w.pqTransfer(t, mldsaKey(2), 1, 10, 0)}
	forged := commit(t, w.state, forgedTxs, l2.ApplyOptions{ChainID: testChainID})
	if _, err := fraud.Build(forged.pre.Clone(), &forged.c, forged.data, forged.trace, nil); err == nil || !strings.Contains(err.Error(), "is unknown") {
		t.Fatalf("Build without the key: %v, want the key named unknown", err)
	}
	fp, err := fraud.Build(forged.pre.Clone(), &forged.c, forged.data, forged.trace, w.keys)
	if err != nil || fp.Kind != fraud.KindStep || fp.Step != 1 || !bytes.Equal(fp.MLDSAPub, w.pq.Public().Bytes()) ||
		!bytes.Equal(fp.MLDSASig, forgedTxs[1].MLDSASig) {
		t.Fatalf("forged signature: %+v, %v", fp, err)
	}
	if ok, err := forged.judge(fp.Encode()); !ok || err != nil {
		t.Fatalf("forged ML-DSA signature: judge %v, %v; want upheld", ok, err)
	}
	// Its valid twin: the same step with an honest signature is not fraud.
	twinTxs := []l2.Tx{forgedTxs[0], w.pqTransfer(t, w.pq, 1, 10, 0)}
	twin := commit(t, w.state, twinTxs, w.opts())
	tp := *fp
	tp.MLDSASig = twinTxs[1].MLDSASig
	tp.NextRoot, tp.NextSiblings = twin.trace[1], l2.ListWitness(twin.trace, 1)
	tp.PrevRoot, tp.PrevSiblings = twin.trace[0], l2.ListWitness(twin.trace, 0)
	if ok, err := twin.judge(tp.Encode()); ok || err != nil {
		t.Fatalf("honest ML-DSA step: judge %v, %v; want not fraud", ok, err)
	}

	// Wrong key kind both ways: a type 2 from the ML-DSA account, a type 5 from an EdDSA one.
	edFromPQ := l2.Tx{Type: l2.TxTransfer, From: 3, To: 1, Amount: 1}
	w.signers[0].Sign(testChainID, &edFromPQ, l2test.TorsionPoint(1))
	pqFromEd := w.pqTransfer(t, w.pq, 2, 1, 0)
	pqFromEd.From = 1
	if _, err := l2.SignMLDSA(w.pq, testChainID, &pqFromEd); err != nil {
		t.Fatal(err)
	}
	for name, tx := range map[string]l2.Tx{"type 2 from ML-DSA": edFromPQ, "type 5 from EdDSA": pqFromEd} {
		b := commit(t, w.state, []l2.Tx{tx}, l2.ApplyOptions{ChainID: testChainID})
		b = seal(t, w.state, b.data, []fr.Element{elem(5)}, elem(5), b.c.WithdrawalRoot) // posted as if it succeeded
		p, err := fraud.Build(b.pre.Clone(), &b.c, b.data, b.trace, w.keys)
		if err != nil || p.Kind != fraud.KindStep || len(p.MLDSAPub) != 0 {
			t.Fatalf("%s: Build %+v, %v", name, p, err)
		}
		if ok, err := b.judge(p.Encode()); !ok || err != nil {
			t.Fatalf("%s: judge %v, %v; want upheld (key_kind_mismatch)", name, ok, err)
		}
	}

	// Proofs that do not match the batch, or are malformed.
	other := mldsaKey(2).Public().Bytes()
	edits := []struct {
		name string
		edit func(p *fraud.Proof)
		want error
	}{
		{"no key and signature", func(p *fraud.Proof) { p.MLDSAPub, p.MLDSASig = nil, nil }, fraud.ErrMismatch},
		{"another key", func(p *fraud.Proof) { p.MLDSAPub = other }, fraud.ErrMismatch},
		{"another signature", func(p *fraud.Proof) { p.MLDSASig = twinTxs[1].MLDSASig }, fraud.ErrMismatch},
		{"key without signature", func(p *fraud.Proof) { p.MLDSASig = nil }, fraud.ErrMalformed},
		{"short key", func(p *fraud.Proof) { p.MLDSAPub = p.MLDSAPub[1:] }, fraud.ErrMalformed},
		{"long signature", func(p *fraud.Proof) { p.MLDSASig = append(bytes.Clone(p.MLDSASig), 0) }, fraud.ErrMalformed},
		{"key in a final root proof", func(p *fraud.Proof) {
			p.Kind, p.Step, p.PrevRoot, p.PrevSiblings, p.Accounts = fraud.KindFinalRoot, 1, elem(0), nil, nil
		}, fraud.ErrMalformed},
	}
	for _, tc := range edits {
		t.Run(tc.name, func(t *testing.T) {
			q := *fp
			tc.edit(&q)
			if ok, err := forged.judge(q.Encode()); ok || !errors.Is(err, tc.want) {
				t.Fatalf("judge %v, %v; want %v", ok, err, tc.want)
			}
		})
	}
	// An ML-DSA key in the proof of an EdDSA step.
	eb := seal(t, w.state, forged.data, []fr.Element{elem(1), forged.trace[1]}, forged.c.NewRoot, forged.c.WithdrawalRoot)
	ep, err := fraud.Build(eb.pre.Clone(), &eb.c, eb.data, eb.trace, w.keys)
	if err != nil || ep.Step != 0 {
		t.Fatalf("Build: %+v, %v", ep, err)
	}
	ep.MLDSAPub, ep.MLDSASig = fp.MLDSAPub, fp.MLDSASig
	if ok, err := eb.judge(ep.Encode()); ok || !errors.Is(err, fraud.ErrMismatch) {
		t.Fatalf("ML-DSA key on an EdDSA step: %v, %v", ok, err)
	}
}

// TestMaxProofSizeMLDSA: the largest ML-DSA step proof (depth 32, two witnesses) fits
// MaxProofSize.
func TestMaxProofSizeMLDSA(t *testing.T) {
	w := newPQWorld(t, 32)
	txs := []l2.Tx{w.pqTransfer(t, mldsaKey(2), 1, 10, 0)}
	b := commit(t, w.state, txs, l2.ApplyOptions{ChainID: testChainID})
	p, err := fraud.Build(b.pre.Clone(), &b.c, b.data, b.trace, w.keys)
	if err != nil || p.Kind != fraud.KindStep || len(p.Accounts) != 2 || len(p.MLDSAPub) == 0 {
		t.Fatalf("Build: %+v, %v", p, err)
	}
	p.Batch, p.Step = 1<<64-1, 1<<64-1
	for i := range p.Accounts {
		p.Accounts[i].Index, p.Accounts[i].Account.Nonce, p.Accounts[i].Account.Balance = 1<<32-1, 1<<64-1, 1<<64-1
	}
	if n := len(p.Encode()); n > fraud.MaxProofSize {
		t.Fatalf("largest ML-DSA proof is %d bytes, MaxProofSize %d", n, fraud.MaxProofSize)
	} else {
		t.Logf("largest ML-DSA proof: %d bytes of %d", n, fraud.MaxProofSize)
	}
}

// TestHonestMLDSAProofs: every well-formed proof against an honest batch of ML-DSA and EdDSA
// transactions is judged "not fraud" (the ML-DSA steps carry the key and the signature), and
// mutations of them, field by field and byte by byte, are rejected.
func TestHonestMLDSAProofs(t *testing.T) {
	w := newPQWorld(t, 4)
	txs := []l2.Tx{w.pqTransfer(t, w.pq, 1, 10, 0), w.transfer(1, 3, 5, 0), w.pqWithdraw(t, 7, 1), w.pqTransfer(t, w.pq, 3, 1, 2)}
	b := commit(t, w.state, txs, w.opts())
	ps, err := fraudtest.HonestProofs(b.pre, &b.c, b.data, b.trace, w.keys)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 17))
	withKey := 0
	for _, p := range ps {
		if len(p.MLDSAPub) > 0 {
			withKey++
		}
		enc := p.Encode()
		if ok, err := b.judge(enc); ok || err != nil {
			t.Fatalf("honest %s proof at step %d: %v, %v", p.Kind, p.Step, ok, err)
		}
		for j := range 40 {
			m := fraudtest.MutateBytes(rng, enc)
			if j%2 == 1 {
				m = fraudtest.Mutate(rng, p).Encode()
			}
			if ok, _ := b.judge(m); ok {
				t.Fatalf("a mutation of the honest %s proof at step %d is upheld", p.Kind, p.Step)
			}
		}
	}
	if withKey != 3 {
		t.Fatalf("%d honest proofs carry an ML-DSA key, want 3", withKey)
	}
}

// FuzzJudgeMLDSA is FuzzJudge over batches with ML-DSA transactions: no input makes the judge
// panic or prove the honest batch fraudulent, a proof that decodes has one encoding, and a
// verdict of fraud comes without an error. The seeds are the honest proofs and the proof of a
// forged ML-DSA signature.
func FuzzJudgeMLDSA(f *testing.F) {
	w := newPQWorld(f, 4)
	honest := commit(f, w.state, []l2.Tx{w.pqTransfer(f, w.pq, 1, 10, 0), w.transfer(1, 3, 5, 0), w.pqWithdraw(f, 7, 1)}, w.opts())
	forged := commit(f, w.state, []l2.Tx{w.transfer(1, 3, 5, 0), w.pqTransfer(f, mldsaKey(2), 1, 10, 0)}, l2.ApplyOptions{ChainID: testChainID})
	ps, err := fraudtest.HonestProofs(honest.pre, &honest.c, honest.data, honest.trace, w.keys)
	if err != nil {
		f.Fatal(err)
	}
	fp, err := fraud.Build(forged.pre.Clone(), &forged.c, forged.data, forged.trace, w.keys)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range append(ps, fp) {
		f.Add(p.Encode())
	}
	f.Fuzz(func(t *testing.T, proof []byte) {
		if p, err := fraud.Decode(proof); err == nil && !bytes.Equal(p.Encode(), proof) {
			t.Fatalf("decoded proof re-encodes differently")
		}
		var judge fraud.Judge
		if ok, err := judge.Judge(honest.fraudCase(proof)); ok {
			t.Fatalf("honest ML-DSA batch proven fraudulent (err %v)", err)
		}
		if ok, err := judge.Judge(forged.fraudCase(proof)); ok && err != nil {
			t.Fatalf("fraud with an error: %v", err)
		}
	})
}
