package settlement

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// FaultKind is a way to corrupt a posted batch, for tests and devnets only: each is a class of
// fraud a challenger must prove (docs/protocol.md §11) or L1 must reject at submission.
type FaultKind uint8

// Fault kinds.
const (
	FaultNone FaultKind = iota
	// FaultWrongBalance: after step Step the touched account (a transfer's recipient) gets one
	// unit more; every later trace entry and the new root follow the wrong state.
	FaultWrongBalance
	// FaultInvalidSignature: a copy of the batch's first signed transaction (EdDSA or ML-DSA)
	// with its nonce and amount changed, so its signature no longer fits, is appended and
	// executed (an ML-DSA one keeps its signature, whose digest is w2: L1 takes the data).
	FaultInvalidSignature
	// FaultNonceReplay: the batch's first signed transaction is appended again and executed
	// without the nonce rule.
	FaultNonceReplay
	// FaultWithdrawalRoot: the commitment's withdrawal root is not that of the batch.
	FaultWithdrawalRoot
	// FaultFinalRoot: the claimed new root is not the last trace entry.
	FaultFinalRoot
	// FaultAmountOverflow: the transaction Fault.Make returns (a transfer beyond the sender's
	// balance) is appended and executed with wrapping u64 arithmetic.
	FaultAmountOverflow
	// FaultMiddleRoot: trace entry Step (not the last) is wrong; the rest of the batch is right.
	FaultMiddleRoot
	// FaultDepositSkipped: the batch's deposits are left out (L1 rejects it once the oldest
	// is past the forced-inclusion window).
	FaultDepositSkipped
	// FaultDataHash: the commitment's data hash is not that of the data (L1 rejects it).
	FaultDataHash
)

var faultNames = [...]string{"none", "wrong balance arithmetic", "invalid signature included", "nonce replay",
	"wrong withdrawal root", "claimed final root is not the last trace entry", "amount overflow",
	"wrong root in the middle of the trace", "forced deposit skipped", "data hash mismatch"}

func (k FaultKind) String() string {
	if int(k) < len(faultNames) {
		return faultNames[k]
	}
	return fmt.Sprintf("fault(%d)", uint8(k))
}

// faultShortNames are the kinds' names in the sequencer's devnet_injectFault and in configs.
var faultShortNames = [...]string{"none", "wrong-balance", "invalid-signature", "nonce-replay", "withdrawal-root",
	"final-root", "amount-overflow", "middle-root", "deposit-skipped", "data-hash"}

// Name is the kind's short name ("wrong-balance", ...), the one ParseFaultKind reads.
func (k FaultKind) Name() string {
	if int(k) < len(faultShortNames) {
		return faultShortNames[k]
	}
	return k.String()
}

// FaultKindNames lists the short names of the kinds that corrupt something (all but "none").
func FaultKindNames() []string { return append([]string(nil), faultShortNames[1:]...) }

// ParseFaultKind reads a short name (Name).
func ParseFaultKind(name string) (FaultKind, error) {
	for k, n := range faultShortNames {
		if k > 0 && n == name {
			return FaultKind(k), nil
		}
	}
	return FaultNone, fmt.Errorf("settlement: unknown fault %q: want one of %s", name, strings.Join(FaultKindNames(), ", "))
}

// Fault corrupts the first posting of batch Batch (Config.Fault), or of the first batch not yet
// posted (Engine.InjectFault). It is refused unless Config.AllowFaultInjection is set (tests
// and devnets). A fault the batch gives no hold to (errFaultNotApplicable: nothing signed to
// replay, one transaction for FaultMiddleRoot, no deposit to skip, a full batch) is dropped and
// the batch posted honestly, with the reason in its LastError.
type Fault struct {
	Kind  FaultKind
	Batch uint64
	Step  int // FaultWrongBalance, FaultMiddleRoot: the step to corrupt (clamped into the batch)
	// Make returns the transaction FaultAmountOverflow appends, given the state after the batch
	// (so that it can use the sender's nonce). It must be signed: the fraud is its amount.
	Make func(after *l2.State) l2.Tx
}

// errFaultNotApplicable: the batch lacks what the fault needs (no signed transaction to replay).
var errFaultNotApplicable = errors.New("settlement: fault not applicable to this batch")

// corrupt returns the submission of b as a faulty sequencer would post it. pre is the state at
// the batch's previous root (it is not modified).
func corrupt(f *Fault, b *built, pre *l2.State, sub *Submission) error {
	c := &sub.Commitment
	switch f.Kind {
	case FaultWithdrawalRoot:
		c.WithdrawalRoot.Add(&c.WithdrawalRoot, ptrOne())
		return nil
	case FaultFinalRoot:
		c.NewRoot.Add(&c.NewRoot, ptrOne())
		return nil
	case FaultDataHash:
		c.DataHash.Add(&c.DataHash, ptrOne())
		return nil
	case FaultMiddleRoot:
		n := len(sub.Trace)
		if n < 2 {
			return fmt.Errorf("%w: %s needs 2 transactions", errFaultNotApplicable, f.Kind)
		}
		k := min(max(f.Step, 0), n-2)
		sub.Trace = append([]fr.Element(nil), sub.Trace...)
		sub.Trace[k].Add(&sub.Trace[k], ptrOne())
		c.TraceRoot = l2.ListRoot(sub.Trace)
		return nil
	}
	txs, err := l2.DecodeBatch(b.Data)
	if err != nil {
		return err
	}
	for k := range b.Sigs {
		txs[k].MLDSASig = b.Sigs[k]
	}
	st := pre.Clone()
	opts := l2.ApplyOptions{ChainID: c.ChainID}
	var trace, leaves []fr.Element
	run := func(tx *l2.Tx, force bool) {
		var leaf fr.Element
		if force {
			st = forceApply(st, tx)
			if tx.Type.IsWithdraw() {
				leaf = l2.WithdrawalLeaf(tx.Address, tx.Amount)
			}
		} else {
			_, leaf = st.Apply(tx, opts)
		}
		trace, leaves = append(trace, st.Root()), append(leaves, leaf)
	}
	switch f.Kind {
	case FaultWrongBalance:
		k := min(max(f.Step, 0), len(txs)-1)
		for i := range txs {
			run(&txs[i], false)
			if i == k {
				st = bump(st, &txs[i])
				trace[i] = st.Root()
			}
		}
	case FaultInvalidSignature, FaultNonceReplay:
		for i := range txs {
			run(&txs[i], false)
		}
		signed := -1
		for i := range txs {
			if txs[i].Type.Signed() {
				signed = i
				break
			}
		}
		if signed < 0 {
			return fmt.Errorf("%w: %s needs a signed transaction", errFaultNotApplicable, f.Kind)
		}
		extra := txs[signed]
		if f.Kind == FaultInvalidSignature {
			a, _ := st.Account(extra.From)
			// Signed by nobody: the old signature no longer fits. An ML-DSA one keeps its
			// signature, whose digest is still w2 (L1 takes the batch; the judge's verify fails).
			extra.Nonce, extra.Amount = a.Nonce, 1
			if !extra.Type.MLDSA() {
				extra.Sig.S.SetUint64(1)
			}
		}
		run(&extra, true)
		txs = append(txs, extra)
	case FaultAmountOverflow:
		if f.Make == nil {
			return fmt.Errorf("%w: %s needs Fault.Make", errFaultNotApplicable, f.Kind)
		}
		for i := range txs {
			run(&txs[i], false)
		}
		extra := f.Make(st.Clone())
		run(&extra, true)
		txs = append(txs, extra)
	case FaultDepositSkipped:
		kept := txs[:0:0]
		for i := range txs {
			if txs[i].Type != l2.TxDeposit {
				kept = append(kept, txs[i])
			}
		}
		if len(kept) == len(txs) {
			return fmt.Errorf("%w: %s needs a deposit", errFaultNotApplicable, f.Kind)
		}
		if len(kept) == 0 {
			kept = append(kept, l2.Tx{}) // a batch is never empty: a no-op
		}
		for i := range kept {
			run(&kept[i], false)
		}
		txs = kept
		c.DepositsAfter = c.DepositsBefore
	default:
		return fmt.Errorf("settlement: unknown fault %d", f.Kind)
	}
	if len(txs) > l2.MaxBatchTxs || mldsaCount(txs) > l2.MaxBatchMLDSATxs {
		return fmt.Errorf("%w: the batch is full", errFaultNotApplicable)
	}
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		return err
	}
	dh, err := l2.DataHash(data) // over the records (docs §8.5)
	if err != nil {
		return err
	}
	frame, err := compress(data)
	if err != nil {
		return err
	}
	sub.Frame, sub.Trace = frame, trace
	c.TxCount, c.DataHash, c.NewRoot = uint64(len(txs)), dh, trace[len(trace)-1]
	c.TraceRoot, c.WithdrawalRoot = l2.ListRoot(trace), l2.ListRoot(leaves)
	return nil
}

func mldsaCount(txs []l2.Tx) (n int) {
	for k := range txs {
		if txs[k].Type.MLDSA() {
			n++
		}
	}
	return n
}

func ptrOne() *fr.Element { var one fr.Element; one.SetOne(); return &one }

// withAccounts returns st with some accounts replaced.
func withAccounts(st *l2.State, set map[uint32]l2.Account) *l2.State {
	accs := st.Accounts()
	for i := range accs {
		if a, ok := set[accs[i].Index]; ok {
			accs[i].Account = a
		}
	}
	out, err := l2.NewStateFromAccounts(st.Depth(), accs)
	if err != nil {
		panic(err) // unreachable: the indices are st's own
	}
	return out
}

// bump gives the last account tx touches one unit more.
func bump(st *l2.State, tx *l2.Tx) *l2.State {
	t := tx.Touches(st.Depth())
	if len(t) == 0 {
		return st
	}
	i := t[len(t)-1]
	a, ok := st.Account(i)
	if !ok {
		return st
	}
	a.Balance++
	return withAccounts(st, map[uint32]l2.Account{i: a})
}

// forceApply executes a transfer or withdraw as a broken sequencer would: no signature, nonce or
// balance rule, wrapping u64 arithmetic.
func forceApply(st *l2.State, tx *l2.Tx) *l2.State {
	from, ok := st.Account(tx.From)
	if !ok {
		return st
	}
	set := map[uint32]l2.Account{}
	from.Balance -= tx.Amount // wraps
	if from.Nonce < math.MaxUint64 {
		from.Nonce++
	}
	set[tx.From] = from
	if tx.Type.IsTransfer() {
		to, ok := st.Account(tx.To)
		if tx.To == tx.From {
			to, ok = from, true
		}
		if ok {
			to.Balance += tx.Amount // wraps
			set[tx.To] = to
		}
	}
	return withAccounts(st, set)
}
