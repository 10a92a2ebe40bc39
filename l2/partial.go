package l2

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// AccountWitness is one leaf of a state root with its Merkle witness (docs §4.3): the account at
// Index, or the empty leaf when Exists is false (Account is then zero), and the D siblings of
// its path, leaf level first.
type AccountWitness struct {
	Index    uint32
	Exists   bool
	Account  Account
	Siblings []fr.Element
}

// Leaf returns the witnessed leaf: the account's, or 0 for an empty one.
func (w *AccountWitness) Leaf() fr.Element {
	if !w.Exists {
		return fr.Element{}
	}
	return w.Account.Leaf()
}

// AccountWitness returns the account at index i, or the empty leaf, with its Merkle witness.
func (s *State) AccountWitness(i uint32) (AccountWitness, error) {
	sib, err := s.Witness(i)
	if err != nil {
		return AccountWitness{}, err
	}
	a, ok := s.account(i)
	return AccountWitness{Index: i, Exists: ok, Account: a, Siblings: sib}, nil
}

// Touches returns the account indices that Apply reads or writes when it executes tx on a state
// of the given depth, in the order sender (or deposit target), recipient, without repeats: the
// witnesses NewPartialState needs for tx. An index outside the tree is never read (Apply stops
// at index_out_of_range, docs §7), so a transfer with either index outside touches nothing.
func (tx *Tx) Touches(depth int) []uint32 {
	inRange := func(i uint32) bool { return uint64(i) < uint64(1)<<depth }
	switch tx.Type {
	case TxDeposit, TxWithdraw, TxWithdrawMLDSA:
		if inRange(tx.From) {
			return []uint32{tx.From}
		}
	case TxTransfer, TxTransferMLDSA:
		switch {
		case !inRange(tx.From) || !inRange(tx.To):
		case tx.From == tx.To:
			return []uint32{tx.From}
		default:
			return []uint32{tx.From, tx.To}
		}
	}
	return nil
}

// NewPartialState returns the state with the given root of which only the witnessed paths are
// known: how L1 re-executes one transaction of a fraud proof (docs §11) with the one
// implementation of the rules, Apply, without the whole state. Each witness must verify against
// root, indices must be distinct and in the tree, an empty leaf must carry a zero account, and
// witnesses must agree on every node they share; the error names the first that does not.
//
// Apply, Root, Account, Witness and AccountWitness work as on the full state with root as long as
// they touch only witnessed indices: Apply on a transaction whose Touches are all witnessed gives
// the status, withdrawal leaf and post-state root the full state would. Reading anything else
// panics (an unknown node is never taken for an empty one), so a missing witness can never give a
// silently wrong root; Touches says which witnesses a transaction needs.
func NewPartialState(depth int, root fr.Element, witnesses []AccountWitness) (*State, error) {
	s, err := newState(depth, len(witnesses))
	if err != nil {
		return nil, err
	}
	s.witnessed = make(map[uint32]bool, len(witnesses))
	s.nodes[depth][0] = root
	// set stores node(l, q) = h, or checks it against the value the root or an earlier witness
	// gave it. The root is stored first, so a witness that does not verify fails at level D.
	set := func(k, l int, q uint32, h fr.Element) error {
		if old, ok := s.nodes[l][q]; ok && !old.Equal(&h) {
			if l == depth {
				return fmt.Errorf("l2: witness %d: index %d does not verify against the root", k, witnesses[k].Index)
			}
			return fmt.Errorf("l2: witness %d: node (%d, %d) disagrees with an earlier witness", k, l, q)
		}
		s.nodes[l][q] = h
		return nil
	}
	var zero Account
	for k := range witnesses {
		w := &witnesses[k]
		switch {
		case !s.inRange(w.Index):
			return nil, fmt.Errorf("l2: witness %d: index %d outside a tree of depth %d", k, w.Index, depth)
		case s.witnessed[w.Index]:
			return nil, fmt.Errorf("l2: witness %d: index %d witnessed twice", k, w.Index)
		case len(w.Siblings) != depth:
			return nil, fmt.Errorf("l2: witness %d: %d siblings, want %d", k, len(w.Siblings), depth)
		case !w.Exists && w.Account != zero:
			return nil, fmt.Errorf("l2: witness %d: an empty leaf with a non-zero account", k)
		}
		h := w.Leaf()
		q := w.Index
		if err := set(k, 0, q, h); err != nil {
			return nil, err
		}
		for l, sib := range w.Siblings {
			if err := set(k, l, q^1, sib); err != nil {
				return nil, err
			}
			if q&1 == 0 {
				h = Compress(h, sib)
			} else {
				h = Compress(sib, h)
			}
			q >>= 1
			if err := set(k, l+1, q, h); err != nil {
				return nil, err
			}
		}
		s.witnessed[w.Index] = true
		if w.Exists {
			s.accounts[w.Index] = w.Account
		}
	}
	return s, nil
}
