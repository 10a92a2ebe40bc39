package fraud_test

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

const (
	testChainID = 7
	testBatch   = 5
)

var signOpts = l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true}

// posted is a batch as posted on L1: the commitment, the data and the published trace, with
// the state the batch starts from.
type posted struct {
	pre   *l2.State
	c     l2.Commitment
	data  []byte
	trace []fr.Element
}

// commit returns the commitment of txs applied to a clone of pre with opts, as a sequencer
// that executes with those options posts it: an honest one uses signOpts and includes only
// transactions that succeed.
func commit(t testing.TB, pre *l2.State, txs []l2.Tx, opts l2.ApplyOptions) *posted {
	t.Helper()
	data, err := l2.EncodeBatchData(txs) // interleaved: a type 5/6 record is followed by its signature
	if err != nil {
		t.Fatal(err)
	}
	r := pre.Clone().ApplyBatch(txs, opts)
	return seal(t, pre, data, r.PostRoots, r.FinalRoot, r.WithdrawalRoot)
}

// seal commits to the given trace, new root and withdrawal root, whatever they are.
func seal(t testing.TB, pre *l2.State, data []byte, trace []fr.Element, newRoot, wroot fr.Element) *posted {
	t.Helper()
	txs, _, err := l2.DecodeBatchData(data)
	if err != nil {
		t.Fatal(err)
	}
	dh := l2.TxsDataHash(txs) // over the records only
	c := l2.Commitment{ChainID: testChainID, BatchNumber: testBatch, PrevRoot: pre.Root(), NewRoot: newRoot,
		WithdrawalRoot: wroot, DataHash: dh, TraceRoot: l2.ListRoot(trace), TxCount: uint64(len(trace))}
	return &posted{pre: pre, c: c, data: data, trace: trace}
}

func (b *posted) build() (*fraud.Proof, error) {
	return fraud.Build(b.pre.Clone(), &b.c, b.data, b.trace, nil)
}

// fraudCase is the case L1 hands the judge for proof against b.
func (b *posted) fraudCase(proof []byte) *fraud.Case {
	return &fraud.Case{L2ChainID: testChainID, TreeDepth: b.pre.Depth(), Commitment: b.c, Data: b.data, Proof: proof}
}

func (b *posted) judge(proof []byte) (bool, error) {
	return fraud.Judge{}.Judge(b.fraudCase(proof))
}

// withBalance returns a copy of s in which account i's balance is set to balance: the state a
// sequencer that got the arithmetic of a step wrong continues from.
func withBalance(t testing.TB, s *l2.State, i uint32, balance uint64) *l2.State {
	t.Helper()
	accs := s.Accounts()
	for k := range accs {
		if accs[k].Index == i {
			accs[k].Account.Balance = balance
		}
	}
	out, err := l2.NewStateFromAccounts(s.Depth(), accs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// world is a small funded L2: signers with accounts at indices 1, 2, 3 (depth 4) and the state.
type world struct {
	signers []*l2test.Signer
	state   *l2.State
}

func newWorld(t testing.TB, depth int, balances ...uint64) *world {
	t.Helper()
	w := &world{}
	var deposits []l2.Tx
	for i, b := range balances {
		s := l2test.NewSigner(big.NewInt(int64(1000 + i)))
		w.signers = append(w.signers, s)
		deposits = append(deposits, l2.Tx{Type: l2.TxDeposit, From: uint32(i + 1), Amount: b, PubKey: s.Public()})
	}
	var err error
	if w.state, err = l2.NewState(depth); err != nil {
		t.Fatal(err)
	}
	if r := w.state.ApplyBatch(deposits, signOpts); r.Rejected != 0 {
		t.Fatalf("setup: %v", r.Statuses)
	}
	return w
}

// transfer is a transfer signed by the owner of account from (index i+1 belongs to signer i).
func (w *world) transfer(from, to uint32, amount, nonce uint64) l2.Tx {
	tx := l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: nonce}
	w.signers[from-1].Sign(testChainID, &tx, l2test.TorsionPoint(1))
	return tx
}

func (w *world) withdraw(from uint32, amount, nonce uint64) l2.Tx {
	tx := l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: nonce, Address: [20]byte{0: 0xee, 19: byte(from)}}
	w.signers[from-1].Sign(testChainID, &tx, l2test.TorsionPoint(1))
	return tx
}

func elem(v uint64) fr.Element {
	var e fr.Element
	e.SetUint64(v)
	return e
}
