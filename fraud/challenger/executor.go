package challenger

import (
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

// Executor kinds of Config.Executor.
const (
	ExecutorCore      = "core"      // the native core (package ffi): the default
	ExecutorReference = "reference" // the Go reference on a clone of the state per batch: slow, for comparison
)

// executor holds the agreed L2 state and re-executes batches on it.
type executor interface {
	root() (fr.Element, error)
	// check re-executes an optimistic batch (c, its data, interleaved, decoded as txs with their
	// ML-DSA signatures, and its published trace) from the agreed state (c.PrevRoot) by the rules
	// the judge applies, signatures checked (ML-DSA ones under the keys of keys), and returns the
	// proof of its first fault, or fraud.ErrNoFraud with the state moved past the batch. After
	// anything else the state may have moved (dirty reports it).
	check(c *l2.Commitment, data []byte, txs []l2.Tx, trace []fr.Element, keys l2.KeyBook) (*fraud.Proof, error)
	// advance applies a batch L1 will not revert (proven, or final), which must re-execute to
	// c.NewRoot with every transaction successful. Signatures are not checked: such a batch is
	// the rollup's state whatever they are. After an error the state may have moved (dirty).
	advance(c *l2.Commitment, data []byte) error
	// account reads the agreed state, to store the accounts a batch changed.
	account(i uint32) (l2.Account, bool, error)
	// dirty reports that the state is no longer one the challenger agreed with: it must be
	// opened again from the store.
	dirty() bool
	close() error
}

// openExecutor returns an executor of the given kind holding accounts, whose root the store
// recorded: both check it.
func openExecutor(kind string, depth int, l2ChainID uint64, accounts []l2.IndexedAccount, root fr.Element) (executor, error) {
	switch kind {
	case "", ExecutorCore:
		return openCore(depth, l2ChainID, accounts, root)
	case ExecutorReference:
		st, err := l2.NewStateFromAccounts(depth, accounts)
		if err != nil {
			return nil, err
		}
		if got := st.Root(); !got.Equal(&root) {
			return nil, fmt.Errorf("challenger: stored accounts give root %x, the store says %x", got.Bytes(), root.Bytes())
		}
		return &refExecutor{state: st, chainID: l2ChainID}, nil
	}
	return nil, fmt.Errorf("challenger: unknown executor %q (want %q or %q)", kind, ExecutorCore, ExecutorReference)
}

// refExecutor re-executes each batch with fraud.Build on a clone of a Go reference state: the
// judge's own code on the whole state, at the reference's speed plus a copy per batch.
type refExecutor struct {
	state   *l2.State
	chainID uint64
	moved   bool
}

func (x *refExecutor) root() (fr.Element, error) { return x.state.Root(), nil }

func (x *refExecutor) check(c *l2.Commitment, data []byte, _ []l2.Tx, trace []fr.Element, keys l2.KeyBook) (*fraud.Proof, error) {
	work := x.state.Clone()
	p, err := fraud.Build(work, c, data, trace, keys)
	if errors.Is(err, fraud.ErrNoFraud) {
		x.state = work
	}
	return p, err
}

func (x *refExecutor) advance(c *l2.Commitment, data []byte) error {
	txs, _, err := l2.DecodeBatchData(data)
	if err != nil {
		return err
	}
	x.moved = true
	res := x.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: x.chainID})
	if res.Rejected > 0 || !res.FinalRoot.Equal(&c.NewRoot) {
		return fmt.Errorf("challenger: batch %d does not re-execute to its root", c.BatchNumber)
	}
	x.moved = false
	return nil
}

func (x *refExecutor) account(i uint32) (l2.Account, bool, error) {
	a, ok := x.state.Account(i)
	return a, ok, nil
}

func (x *refExecutor) dirty() bool  { return x.moved }
func (x *refExecutor) close() error { return nil }

// coreExecutor re-executes each batch in the native core, in place, with one ApplyBatch call,
// compares every step's root with the published trace, and verifies the signatures the core
// does not (their challenges hashed all at once in the core by txchallenge, then
// l2.VerifyTxBatch spread over the CPUs). Before the batch it reads the witnesses of
// every account the batch touches: if a step is wrong they make a partial state of the agreed
// root (l2.NewPartialState) on which the Go reference replays the steps found right (no
// signature checks: they were verified) and fraud.BuildFrom proves the faulty one by the judge's
// own rules, independently of the core. The core has then applied a batch the challenger
// rejects: it is dirty, and the challenger opens it again from the store once the challenge is
// sent, off the detect-to-submit path.
//
// ApplyBatchWitness would give every step's witnesses from the core itself, but it runs the
// transactions one at a time, about 5 times slower than ApplyBatch at depth 24 (bench/results):
// a cost on every batch to save one on a fraud, which is rare and costs its sequencer a bond.
type coreExecutor struct {
	core       *ffi.Core
	depth      int
	chainID    uint64
	challenges *txchallenge.Hasher // used by one check at a time
	out        ffi.BatchOutput
	moved      bool
}

func openCore(depth int, l2ChainID uint64, accounts []l2.IndexedAccount, root fr.Element) (*coreExecutor, error) {
	accs := make([]ffi.IndexedAccount, len(accounts))
	for k, a := range accounts {
		accs[k] = ffi.IndexedAccount{Index: a.Index, Account: ffi.Account{PubKeyX: a.Account.PubKey.X.Bytes(),
			PubKeyY: a.Account.PubKey.Y.Bytes(), Balance: a.Account.Balance, Nonce: a.Account.Nonce, Exists: true}}
	}
	// Room to grow without reallocating for a while; the core grows between batches anyway.
	capacity := uint64(2*len(accounts) + 1024)
	core, err := ffi.RestoreAccounts(uint32(depth), accs, root.Bytes(), capacity)
	if err != nil {
		return nil, fmt.Errorf("challenger: opening the core from the store: %w", err)
	}
	return &coreExecutor{core: core, depth: depth, chainID: l2ChainID, challenges: txchallenge.NewHasher(l2ChainID)}, nil
}

func (x *coreExecutor) root() (fr.Element, error) {
	r, err := x.core.Root()
	if err != nil {
		return fr.Element{}, err
	}
	return ffi.Element(r)
}

// check does not hash the data against c.DataHash nor the trace against c.TraceRoot in Go on
// the honest path: L1 checked both at submission, and the core's own trace root, of roots equal
// to the trace, must be c.TraceRoot. A proof is built only after fraud.BuildFrom checked both.
func (x *coreExecutor) check(c *l2.Commitment, data []byte, txs []l2.Tx, trace []fr.Element, keys l2.KeyBook) (*fraud.Proof, error) {
	n := len(txs)
	if uint64(n) != c.TxCount || len(trace) != n {
		return nil, fmt.Errorf("challenger: %d transactions and %d trace entries, commitment says %d", n, len(trace), c.TxCount)
	}
	records, err := recordsOf(data, txs)
	if err != nil {
		return nil, err
	}
	touched := touches(txs, x.depth)
	pre := make([]ffi.Witness, len(touched))
	for k, i := range touched {
		if pre[k], err = x.core.Witness(i); err != nil {
			return nil, err
		}
	}
	var snap []byte // the state before the batch, should a refund of it be wrong (refund.go)
	if hasRefund(txs) {
		if snap, err = x.core.Snapshot(); err != nil {
			return nil, err
		}
	}
	// The signatures are verified on the other CPUs while the core executes.
	checks, mldsa, positions := signatureChecks(txs, pre, keys)
	verified := make(chan []bool, 1)
	go func() { verified <- verifySignatures(x.challenges, x.chainID, checks, mldsa) }()
	x.moved = true
	err = x.core.ApplyBatch(records, &x.out)
	valid := <-verified
	if err != nil {
		x.moved = false // the core changes nothing on an error
		return nil, err
	}
	// The first step whose status, root or signature is wrong.
	fault := n
	for k := range n {
		if x.out.Statuses[k] != ffi.TxOK || x.out.PostRoot(k) != trace[k].Bytes() {
			fault = k
			break
		}
	}
	if fault == n && x.out.TraceRoot != c.TraceRoot.Bytes() {
		return nil, fmt.Errorf("challenger: the trace of batch %d is not the committed one", c.BatchNumber)
	}
	for i, ok := range valid { // positions ascend within each kind, not across them
		if !ok && positions[i] < fault {
			fault = positions[i]
		}
	}
	if fault == n && x.out.FinalRoot == c.NewRoot.Bytes() && x.out.WithdrawalRoot == c.WithdrawalRoot.Bytes() {
		x.moved = false
		return nil, fraud.ErrNoFraud
	}
	if fault < n && txs[fault].Type == l2.TxRefund {
		return x.refundProof(snap, c, records, txs, trace, fault)
	}
	var partial *l2.State
	if fault < n {
		if partial, err = x.stateBefore(c, txs, trace, pre, fault); err != nil {
			return nil, err
		}
	}
	p, err := fraud.BuildFrom(partial, c, data, trace, fault, keys)
	if errors.Is(err, fraud.ErrNoFraud) {
		return nil, fmt.Errorf("challenger: the core finds batch %d wrong from step %d of %d, the reference does not", c.BatchNumber, fault, n)
	}
	return p, err
}

// stateBefore returns the partial state before step k, made of the witnesses pre (the accounts
// the batch touches, before it) with steps 0 to k-1 replayed by the reference: they were found
// right, so their roots must be the trace's.
func (x *coreExecutor) stateBefore(c *l2.Commitment, txs []l2.Tx, trace []fr.Element, pre []ffi.Witness, k int) (*l2.State, error) {
	pre = pre[:len(touches(txs[:k+1], x.depth))] // the accounts of steps 0 to k come first
	accounts := make([]l2.AccountWitness, len(pre))
	var err error
	for i := range pre {
		if accounts[i], err = accountWitness(pre[i]); err != nil {
			return nil, err
		}
	}
	s, err := l2.NewPartialState(x.depth, c.PrevRoot, accounts)
	if err != nil {
		return nil, fmt.Errorf("challenger: the core's witnesses of batch %d: %w", c.BatchNumber, err)
	}
	opts := l2.ApplyOptions{ChainID: x.chainID} // signatures verified already
	for j := range k {
		if txs[j].Type == l2.TxRefund {
			continue // found right by the core, and a refund leaves the state unchanged
		}
		if st, _ := s.Apply(&txs[j], opts); st != l2.StatusOK {
			return nil, fmt.Errorf("challenger: step %d of batch %d: the core applies it, the reference says %s", j, c.BatchNumber, st)
		}
		if root := s.Root(); !root.Equal(&trace[j]) {
			return nil, fmt.Errorf("challenger: step %d of batch %d: the core and the reference disagree on its root", j, c.BatchNumber)
		}
	}
	return s, nil
}

func (x *coreExecutor) advance(c *l2.Commitment, data []byte) error {
	records, _, err := l2.SplitBatchData(data)
	if err != nil {
		return err
	}
	x.moved = true
	if err := x.core.ApplyBatch(records, &x.out); err != nil {
		x.moved = false
		return err
	}
	if x.out.Rejected > 0 || x.out.FinalRoot != c.NewRoot.Bytes() {
		return fmt.Errorf("challenger: batch %d does not re-execute to its root", c.BatchNumber)
	}
	x.moved = false
	return nil
}

func (x *coreExecutor) account(i uint32) (l2.Account, bool, error) {
	a, err := x.core.Account(i)
	if err != nil || !a.Exists {
		return l2.Account{}, false, err
	}
	pkX, pkY, err := a.PubKey()
	if err != nil {
		return l2.Account{}, false, err
	}
	return l2.Account{PubKey: l2.PublicKey{X: pkX, Y: pkY}, Balance: a.Balance, Nonce: a.Nonce}, true, nil
}

func (x *coreExecutor) dirty() bool  { return x.moved }
func (x *coreExecutor) close() error { return x.core.Close() }

// accountWitness converts a witness of the core.
func accountWitness(w ffi.Witness) (l2.AccountWitness, error) {
	x, y, siblings, err := w.Elements()
	if err != nil {
		return l2.AccountWitness{}, err
	}
	return l2.AccountWitness{Index: w.Index, Exists: w.Exists, Siblings: siblings,
		Account: l2.Account{PubKey: l2.PublicKey{X: x, Y: y}, Balance: w.Balance, Nonce: w.Nonce}}, nil
}

// touches returns the distinct indices of the accounts a batch reads or writes, in the order
// its transactions first touch them.
func touches(txs []l2.Tx, depth int) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for k := range txs {
		for _, i := range txs[k].Touches(depth) {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	return out
}

// recordsOf is the records of batch data (what the core executes): the data itself when no
// transaction is a type 5/6, else the data without the signatures that follow them.
func recordsOf(data []byte, txs []l2.Tx) ([]byte, error) {
	for k := range txs {
		if txs[k].Type.MLDSA() {
			records, _, err := l2.SplitBatchData(data)
			return records, err
		}
	}
	return data, nil
}
