package settlement_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/settlement"
)

// pqRollup is the L2 side of the ML-DSA scenario: the batches are executed by the Go reference
// and posted to L1 with the sequencer's key, as a sequencer posts them (interleaved data, data
// hash over the records); the settlement engine is not stepped.
type pqRollup struct {
	w        *world
	state    *l2.State
	keys     l2.KeyMap
	consumed uint64
	number   uint64
}

// submission executes txs on a clone of the state with opts and returns the batch's
// submission in mode, the state after it and its withdrawal leaves; r is not changed.
func (r *pqRollup) submission(txs []l2.Tx, opts l2.ApplyOptions, mode uint8) (*chain.SubmitBatch, *l2.State, []fr.Element) {
	t := r.w.t
	t.Helper()
	st := r.state.Clone()
	prev := st.Root()
	res := st.ApplyBatch(txs, opts)
	if res.Rejected != 0 {
		t.Fatalf("batch %d: statuses %v", r.number+1, res.Statuses)
	}
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		t.Fatal(err)
	}
	dh := l2.TxsDataHash(txs) // over the records only
	frame, err := chain.CompressBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	deposits := uint64(0)
	for k := range txs {
		if txs[k].Type == l2.TxDeposit {
			deposits++
		}
	}
	p := &chain.SubmitBatch{RollupID: r.w.rollup, Mode: mode, Number: r.number + 1, PrevRoot: prev.Bytes(),
		NewRoot: res.FinalRoot.Bytes(), DepositsBefore: r.dq(r.consumed), DepositsAfter: r.dq(r.consumed + deposits),
		WithdrawalRoot: res.WithdrawalRoot.Bytes(), DataHash: dh.Bytes(), TraceRoot: res.TraceRoot.Bytes(),
		TxCount: uint64(len(txs)), Data: frame}
	if mode == chain.ModeValidity {
		p.Proof = []byte("a proof the circuit cannot make")
	} else {
		for _, root := range res.PostRoots {
			p.Trace = append(p.Trace, root.Bytes())
		}
	}
	return p, st, res.WithdrawalLeaves
}

// post posts txs optimistically as the next batch and moves the L2 side past it.
func (r *pqRollup) post(txs []l2.Tx, opts l2.ApplyOptions) []fr.Element {
	r.w.t.Helper()
	p, st, leaves := r.submission(txs, opts, chain.ModeOptimistic)
	r.w.l1Ok(r.w.seqKey, chain.TxSubmitBatch, p)
	for k := range txs {
		if txs[k].Type == l2.TxDeposit {
			r.consumed++
		}
	}
	r.state, r.number = st, r.number+1
	return leaves
}

func (r *pqRollup) dq(j uint64) [32]byte {
	r.w.t.Helper()
	if j == 0 {
		return [32]byte{}
	}
	d, err := r.w.node.Deposit(r.w.rollup, j-1)
	if err != nil {
		r.w.t.Fatal(err)
	}
	return d.Chain
}

func (r *pqRollup) pqTx(t *testing.T, k *pqkey.PrivateKey, tx l2.Tx) l2.Tx {
	t.Helper()
	if _, err := l2.SignMLDSA(k, l2ChainID, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestFraudScenariosMLDSA (issue 17): ML-DSA accounts end to end on L1, with the real judge and
// the challenger, with each of its executors (the core executes types 5/6 and checks the key
// kind; the challenger verifies the ML-DSA signatures in Go). Deposits register an ML-DSA key; an honest optimistic batch of ML-DSA
// transfers and a withdraw (refused first in a validity submission) is never challenged and
// finalizes, and its ML-DSA withdrawal is claimed; a batch with a forged ML-DSA signature (a
// type 5 transfer signed by another key, its digest w2, so L1 takes the posting) is proven by
// the challenger (a step proof carrying the key and the signature) and reverted by L1.
func TestFraudScenariosMLDSA(t *testing.T) {
	for _, exec := range executors {
		t.Run(exec, func(t *testing.T) { mldsaScenario(t, exec) })
	}
}

func mldsaScenario(t *testing.T, executor string) {
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic},
		worldOpts{depth: depth, batchSize: batchSize, executor: executor})
	st, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	r := &pqRollup{w: w, state: st, keys: l2.KeyMap{}}
	ed, err := l2.GenerateKey(bytes.NewReader(make([]byte, 64)))
	if err != nil {
		t.Fatal(err)
	}
	pq, forger := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x17}), pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x18})
	pub := pq.Public().Bytes()
	pqPK := r.keys.Add(pub)
	edPK := ed.Public()
	w.l1Ok(w.user, chain.TxDeposit, &chain.Deposit{RollupID: w.rollup, Amount: 1000, PKX: edPK.X.Bytes(), PKY: edPK.Y.Bytes()})
	w.l1Ok(w.user, chain.TxDeposit, &chain.Deposit{RollupID: w.rollup, Amount: 1000, MLDSAKey: pub})
	w.l1Ok(w.user, chain.TxDeposit, &chain.Deposit{RollupID: w.rollup, Amount: 50, MLDSAKey: pub}) // registered already: a no-op
	if got, err := w.node.L2Key(w.rollup, pqPK.Y.Bytes()); err != nil || !bytes.Equal(got, pub) {
		t.Fatalf("L1's registered key: %d bytes, %v", len(got), err)
	}
	opts := l2.ApplyOptions{ChainID: l2ChainID, VerifySignatures: true, Keys: r.keys}
	r.post([]l2.Tx{{Type: l2.TxDeposit, From: 0, Amount: 1000, PubKey: edPK}, {Type: l2.TxDeposit, From: 1, Amount: 1000, PubKey: pqPK},
		{Type: l2.TxDeposit, From: 1, Amount: 50, PubKey: pqPK}}, opts)
	w.watch()

	// Batch 2, honest: ML-DSA transfer and withdraw, and an EdDSA transfer to the ML-DSA account.
	dest := common.Address{0xd7}
	edTx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}
	if err := l2.SignTx(ed, l2ChainID, &edTx); err != nil {
		t.Fatal(err)
	}
	honest := []l2.Tx{
		r.pqTx(t, pq, l2.Tx{Type: l2.TxTransferMLDSA, From: 1, To: 0, Amount: 10, Nonce: 0}),
		r.pqTx(t, pq, l2.Tx{Type: l2.TxWithdrawMLDSA, From: 1, Amount: 7, Nonce: 1, Address: dest}),
		edTx,
	}
	pv, _, _ := r.submission(honest, opts, chain.ModeValidity)
	if res := w.l1(w.seqKey, chain.TxSubmitBatch, pv); !errors.Is(res.Errs[0], chain.ErrMLDSAInValidityBatch) {
		t.Fatalf("validity submission of ML-DSA transactions: %v, want ErrMLDSAInValidityBatch", res.Errs[0])
	}
	leaves := r.post(honest, opts)
	honestRoot := r.state.Root()
	w.watch()
	if st := w.ch.Status(); st.Challenges != 0 || st.Agreed != 2 {
		t.Fatalf("challenger after the honest ML-DSA batch: %+v", st)
	}

	// Batch 3, forged: a type 5 transfer of account 1 signed by another key, executed without
	// the signature check (its digest is w2: L1's availability check passes).
	forged := []l2.Tx{r.pqTx(t, forger, l2.Tx{Type: l2.TxTransferMLDSA, From: 1, To: 0, Amount: 900, Nonce: 2})}
	r.post(forged, l2.ApplyOptions{ChainID: l2ChainID})
	chBefore := w.balance(w.chKey)
	w.watch()
	st3 := w.ch.Status()
	if st3.Challenges != 1 || st3.Challenged != 3 || st3.LastProof != fraud.KindStep || st3.LastStep != 0 {
		t.Fatalf("challenger on the forged ML-DSA signature: %+v", st3)
	}
	res := w.block() // the challenge
	if up := events(res, chain.EventChallengeUpheld); len(up) != 1 || up[0].Number != 3 {
		t.Fatalf("challenge not upheld: %+v %v", res.Events, res.Errs)
	}
	if rev := events(res, chain.EventBatchReverted); len(rev) != 1 || rev[0].Number != 3 {
		t.Fatalf("reverted %+v", rev)
	}
	if got := w.balance(w.chKey) - chBefore; got != bond/2 {
		t.Fatalf("challenger got %d, want %d", got, bond/2)
	}
	w.watch()

	// Batches 1 and 2 finalize; the ML-DSA withdrawal is claimed on L1.
	for range 2 * window {
		if w.rollupState().FinalNumber == 2 {
			break
		}
		w.block()
		w.watch()
	}
	rs := w.rollupState()
	if rs.FinalNumber != 2 || rs.HeadNumber != 2 || rs.FinalRoot != honestRoot.Bytes() {
		t.Fatalf("rollup: final %d, head %d", rs.FinalNumber, rs.HeadNumber)
	}
	if st := w.ch.Status(); st.Challenges != 1 || st.Upheld != 1 || st.Agreed != 2 {
		t.Fatalf("challenger at the end: %+v", st)
	}
	w.l1Ok(w.user, chain.TxClaimWithdrawal, &chain.ClaimWithdrawal{RollupID: w.rollup, Batch: 2, Index: 1, Address: dest,
		Amount: 7, Siblings: chain.ListWitness(leaves, 1)})
	if a, err := w.node.Account(dest); err != nil || a.Balance != 7 {
		t.Fatalf("claimed ML-DSA withdrawal: %+v, %v", a, err)
	}
}
