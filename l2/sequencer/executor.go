package sequencer

import (
	"errors"
	"fmt"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// Executor runs batches against the L2 state. The sequencer owns one and serialises every call
// to Apply against every other call; the read-only calls may run concurrently with each other.
// Signatures are never checked here: the sequencer verifies them before a transaction is
// admitted (docs/protocol.md §6).
type Executor interface {
	// Apply executes canonical batch data in one call. The result is valid until the next Apply.
	Apply(data []byte) (*ExecResult, error)
	// Account returns the account at index i (< 2^depth) and whether it exists.
	Account(i uint32) (l2.Account, bool, error)
	// Witness returns the Merkle siblings of index i, leaf level first.
	Witness(i uint32) ([][32]byte, error)
	Root() ([32]byte, error)
	// Snapshot returns the state image of docs/protocol.md §9.
	Snapshot() ([]byte, error)
	Close() error
}

// ExecResult is the outcome of one Executor.Apply (docs/protocol.md §8).
type ExecResult struct {
	Statuses         []l2.Status
	PostRoots        []byte // trace[k], 32 bytes per transaction
	WithdrawalLeaves []byte // wleaf[k], 32 bytes per transaction
	FinalRoot        [32]byte
	TraceRoot        [32]byte
	WithdrawalRoot   [32]byte
}

// Executor kinds of Config.Executor.
const (
	ExecutorCore      = "core"      // the native Zig core through cgo (package ffi)
	ExecutorReference = "reference" // the Go reference l2.State: slow, for comparison
)

func newExecutor(kind string, depth int, capacityHint uint64, snapshot []byte) (Executor, error) {
	switch kind {
	case "", ExecutorCore:
		var c *ffi.Core
		var err error
		if snapshot != nil {
			c, err = ffi.Restore(snapshot, capacityHint)
		} else {
			c, err = ffi.New(uint32(depth), capacityHint)
		}
		if err != nil {
			return nil, err
		}
		return &coreExecutor{core: c}, nil
	case ExecutorReference:
		if snapshot == nil {
			s, err := l2.NewState(depth)
			if err != nil {
				return nil, err
			}
			return &refExecutor{state: s}, nil
		}
		s, err := referenceState(snapshot)
		if err != nil {
			return nil, err
		}
		return &refExecutor{state: s}, nil
	}
	return nil, fmt.Errorf("sequencer: unknown executor %q (want %q or %q)", kind, ExecutorCore, ExecutorReference)
}

// referenceState is the Go reference state of a snapshot image (docs/protocol.md §9), its root
// checked against the image's.
func referenceState(img []byte) (*l2.State, error) {
	var accounts []l2.IndexedAccount
	var bad error
	d, root, err := ffi.WalkSnapshot(img, func(a *ffi.IndexedAccount) {
		var acc l2.Account
		if err := errors.Join(acc.PubKey.X.SetBytesCanonical(a.PubKeyX[:]), acc.PubKey.Y.SetBytesCanonical(a.PubKeyY[:])); err != nil {
			bad = errors.Join(bad, fmt.Errorf("account %d: %w", a.Index, err))
		}
		acc.Balance, acc.Nonce = a.Balance, a.Nonce
		accounts = append(accounts, l2.IndexedAccount{Index: a.Index, Account: acc})
	})
	if err = errors.Join(err, bad); err != nil {
		return nil, fmt.Errorf("sequencer: snapshot: %w", err)
	}
	s, err := l2.NewStateFromAccounts(int(d), accounts)
	if err != nil {
		return nil, err
	}
	if got := s.Root(); got.Bytes() != root {
		return nil, fmt.Errorf("sequencer: snapshot root %x, recomputed %x", root, got.Bytes())
	}
	return s, nil
}

// coreExecutor is the production executor: one cgo call per batch into the Zig core.
type coreExecutor struct {
	core *ffi.Core
	out  ffi.BatchOutput
	res  ExecResult
}

func (e *coreExecutor) Apply(data []byte) (*ExecResult, error) {
	if err := e.core.ApplyBatch(data, &e.out); err != nil {
		return nil, err
	}
	e.res.Statuses = e.res.Statuses[:0]
	for _, st := range e.out.Statuses {
		e.res.Statuses = append(e.res.Statuses, l2.Status(st))
	}
	e.res.PostRoots = e.out.PostRoots
	e.res.WithdrawalLeaves = e.out.WithdrawalLeaves
	e.res.FinalRoot, e.res.TraceRoot, e.res.WithdrawalRoot = e.out.FinalRoot, e.out.TraceRoot, e.out.WithdrawalRoot
	return &e.res, nil
}

func (e *coreExecutor) Account(i uint32) (l2.Account, bool, error) {
	a, err := e.core.Account(i)
	if err != nil || !a.Exists {
		return l2.Account{}, false, err
	}
	var acc l2.Account
	acc.PubKey.X.SetBytes(a.PubKeyX[:])
	acc.PubKey.Y.SetBytes(a.PubKeyY[:])
	acc.Balance, acc.Nonce = a.Balance, a.Nonce
	return acc, true, nil
}

func (e *coreExecutor) Witness(i uint32) ([][32]byte, error) {
	w, err := e.core.Witness(i)
	if err != nil {
		return nil, err
	}
	return w.Siblings, nil
}

func (e *coreExecutor) Root() ([32]byte, error)   { return e.core.Root() }
func (e *coreExecutor) Snapshot() ([]byte, error) { return e.core.Snapshot() }
func (e *coreExecutor) Close() error              { return e.core.Close() }

// refExecutor runs the same pipeline on the Go reference state, signature checks off (they were
// done before admission, exactly as for the core).
type refExecutor struct {
	state *l2.State
	res   ExecResult
}

func (e *refExecutor) Apply(data []byte) (*ExecResult, error) {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	r := e.state.ApplyBatch(txs, l2.ApplyOptions{})
	e.res.Statuses = r.Statuses
	e.res.PostRoots = e.res.PostRoots[:0]
	e.res.WithdrawalLeaves = e.res.WithdrawalLeaves[:0]
	for k := range txs {
		p, w := r.PostRoots[k].Bytes(), r.WithdrawalLeaves[k].Bytes()
		e.res.PostRoots = append(e.res.PostRoots, p[:]...)
		e.res.WithdrawalLeaves = append(e.res.WithdrawalLeaves, w[:]...)
	}
	e.res.FinalRoot, e.res.TraceRoot, e.res.WithdrawalRoot = r.FinalRoot.Bytes(), r.TraceRoot.Bytes(), r.WithdrawalRoot.Bytes()
	return &e.res, nil
}

func (e *refExecutor) Account(i uint32) (l2.Account, bool, error) {
	if uint64(i) >= uint64(1)<<e.state.Depth() {
		return l2.Account{}, false, ffi.ErrIndexOutOfRange
	}
	a, ok := e.state.Account(i)
	return a, ok, nil
}

func (e *refExecutor) Witness(i uint32) ([][32]byte, error) {
	sib, err := e.state.Witness(i)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, len(sib))
	for l := range sib {
		out[l] = sib[l].Bytes()
	}
	return out, nil
}

func (e *refExecutor) Root() ([32]byte, error) { r := e.state.Root(); return r.Bytes(), nil }
func (e *refExecutor) Close() error            { return nil }

// Snapshot encodes the reference state in the image of docs/protocol.md §9.
func (e *refExecutor) Snapshot() ([]byte, error) {
	accs := e.state.Accounts()
	out := make([]ffi.IndexedAccount, len(accs))
	for k, a := range accs {
		out[k] = ffi.IndexedAccount{Index: a.Index, Account: ffi.Account{PubKeyX: a.Account.PubKey.X.Bytes(),
			PubKeyY: a.Account.PubKey.Y.Bytes(), Balance: a.Account.Balance, Nonce: a.Account.Nonce, Exists: true}}
	}
	root := e.state.Root()
	return ffi.EncodeSnapshot(uint32(e.state.Depth()), out, root.Bytes()), nil
}
