package l2

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Account is a non-empty account of the state tree (docs §4.1).
type Account struct {
	PubKey  PublicKey
	Balance uint64
	Nonce   uint64
}

// Leaf returns the account's leaf (docs §4.2): H(pk.x, pk.y, balance + 2^64·nonce).
func (a Account) Leaf() fr.Element {
	var packed [32]byte
	binary.BigEndian.PutUint64(packed[16:24], a.Nonce)
	binary.BigEndian.PutUint64(packed[24:32], a.Balance)
	var p fr.Element
	p.SetBytes(packed[:]) // < 2^128 < p
	return HashMD(a.PubKey.X, a.PubKey.Y, p)
}

// IndexedAccount is an account with its index in the state tree.
type IndexedAccount struct {
	Index   uint32
	Account Account
}

// State is the L2 state: the accounts and the sparse Merkle tree over them (docs §4.3).
// Only nodes of subtrees that hold an account are stored; any other node at level l is Z[l].
// A State is not safe for concurrent use while it is being modified.
//
// A partial state (NewPartialState) knows only the paths of a few witnessed accounts: every node
// it does not store is unknown, not empty, and reading one, or an account outside its witnessed
// indices, panics rather than give a wrong root.
type State struct {
	depth    int
	accounts map[uint32]Account
	nodes    []map[uint32]fr.Element // nodes[l][q] = node(l, q) for l in 0..depth
	// witnessed is nil for a full state; for a partial state, the indices whose paths it holds.
	witnessed map[uint32]bool
}

// ApplyOptions configures execution.
type ApplyOptions struct {
	ChainID uint64
	// VerifySignatures makes transfers and withdraws check their signature (status
	// bad_signature). The Zig core never checks them: its caller has already done so (docs §6).
	VerifySignatures bool
	// Keys gives the ML-DSA public keys for the signature check of types 5 and 6 (used only with
	// VerifySignatures; nil knows no key, so every such signature is bad_signature).
	Keys KeyBook
}

// BatchResult is the outcome of ApplyBatch (docs §8).
type BatchResult struct {
	Statuses         []Status
	PostRoots        []fr.Element // trace[k]: the state root after transaction k
	WithdrawalLeaves []fr.Element // wleaf[k]
	FinalRoot        fr.Element   // the root after the batch (the pre-state root for no transactions)
	TraceRoot        fr.Element   // list_root(PostRoots)
	WithdrawalRoot   fr.Element   // list_root(WithdrawalLeaves)
	Applied          int          // transactions with status ok
	Rejected         int          // transactions with another status
}

// NewState returns the genesis state (no accounts) of a tree of the given depth.
func NewState(depth int) (*State, error) {
	return newState(depth, 0)
}

// newState returns an empty state with room for n accounts.
func newState(depth int, n int) (*State, error) {
	if depth < MinTreeDepth || depth > MaxTreeDepth {
		return nil, fmt.Errorf("l2: tree depth %d outside [%d, %d]", depth, MinTreeDepth, MaxTreeDepth)
	}
	s := &State{depth: depth, accounts: make(map[uint32]Account, n), nodes: make([]map[uint32]fr.Element, depth+1)}
	for l := range s.nodes {
		size := n // at most n nodes per level, and 2^(depth-l)
		if d := depth - l; d < 30 && 1<<d < size {
			size = 1 << d
		}
		s.nodes[l] = make(map[uint32]fr.Element, size)
	}
	return s, nil
}

// NewStateFromAccounts returns the state of a tree of the given depth that holds exactly the
// given accounts: how a fraud-proof verifier or a snapshot loader (docs §9) builds a state,
// including states no sequence of transactions reaches (a nonce of 2^64-1). Indices must be
// strictly increasing and below 2^depth; the error names the first entry that is not. Keys,
// balances and nonces are taken as they are (docs §4.1: the state does not validate keys).
//
// The tree is built bottom-up, level by level, hashing each stored node once: for n accounts
// spread over the tree about n·(D - log2(n) + 4) Compress calls, against n·(D + 3) when they
// are inserted one at a time.
func NewStateFromAccounts(depth int, accounts []IndexedAccount) (*State, error) {
	s, err := newState(depth, len(accounts))
	if err != nil {
		return nil, err
	}
	level := make([]uint32, len(accounts)) // positions of the stored nodes of a level, increasing
	for k, a := range accounts {
		if !s.inRange(a.Index) {
			return nil, fmt.Errorf("l2: accounts[%d]: index %d outside a tree of depth %d", k, a.Index, depth)
		}
		if k > 0 && a.Index <= accounts[k-1].Index {
			return nil, fmt.Errorf("l2: accounts[%d]: index %d is not above the index %d of accounts[%d]",
				k, a.Index, accounts[k-1].Index, k-1)
		}
		s.accounts[a.Index] = a.Account
		s.nodes[0][a.Index] = a.Account.Leaf()
		level[k] = a.Index
	}
	for l := 0; l < depth; l++ {
		next := level[:0] // parents, written behind the reading position
		for _, q := range level {
			parent := q >> 1
			if len(next) > 0 && next[len(next)-1] == parent {
				continue // the right child of a parent already hashed with its left sibling
			}
			s.nodes[l+1][parent] = Compress(s.node(l, parent<<1), s.node(l, parent<<1|1))
			next = append(next, parent)
		}
		level = next
	}
	return s, nil
}

// Depth returns the tree depth D.
func (s *State) Depth() int { return s.depth }

// Root returns the state root node(D, 0).
func (s *State) Root() fr.Element { return s.node(s.depth, 0) }

// Account returns the account at index i and whether it exists. On a partial state i must be a
// witnessed index: for any other the account is unknown, and Account panics.
func (s *State) Account(i uint32) (Account, bool) {
	return s.account(i)
}

// Partial reports whether s is a partial state (NewPartialState).
func (s *State) Partial() bool { return s.witnessed != nil }

// Len returns the number of non-empty accounts (of a partial state: witnessed ones).
func (s *State) Len() int { return len(s.accounts) }

// Accounts returns every non-empty account (of a partial state: witnessed ones), by increasing
// index.
func (s *State) Accounts() []IndexedAccount {
	out := make([]IndexedAccount, 0, len(s.accounts))
	for _, i := range slices.Sorted(maps.Keys(s.accounts)) {
		out = append(out, IndexedAccount{Index: i, Account: s.accounts[i]})
	}
	return out
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := &State{depth: s.depth, accounts: maps.Clone(s.accounts), nodes: make([]map[uint32]fr.Element, len(s.nodes)),
		witnessed: maps.Clone(s.witnessed)}
	for l := range s.nodes {
		c.nodes[l] = maps.Clone(s.nodes[l])
	}
	return c
}

func (s *State) inRange(i uint32) bool { return uint64(i) < uint64(1)<<s.depth }

// node returns node(level, q). Every read of the tree goes through it, which is what makes the
// guard of a partial state complete: a node it does not store is unknown there, never Z[level].
func (s *State) node(level int, q uint32) fr.Element {
	if h, ok := s.nodes[level][q]; ok {
		return h
	}
	if s.witnessed != nil {
		panic(fmt.Sprintf("l2: node (%d, %d) is outside the witnessed paths of a partial state", level, q))
	}
	return EmptySubtree(level)
}

// account returns the account at index i. Every read of an account goes through it: on a
// partial state an index outside the witnessed ones is unknown, never empty.
func (s *State) account(i uint32) (Account, bool) {
	if s.witnessed != nil && !s.witnessed[i] {
		panic(fmt.Sprintf("l2: account %d is outside the witnessed paths of a partial state", i))
	}
	a, ok := s.accounts[i]
	return a, ok
}

// Witness returns the Merkle witness of index i (docs §4.3): its D siblings, leaf level first.
// On a partial state i must be a witnessed index.
func (s *State) Witness(i uint32) ([]fr.Element, error) {
	if !s.inRange(i) {
		return nil, fmt.Errorf("l2: index %d outside a tree of depth %d", i, s.depth)
	}
	if s.witnessed != nil && !s.witnessed[i] {
		return nil, fmt.Errorf("l2: index %d is not witnessed in this partial state", i)
	}
	sib := make([]fr.Element, s.depth)
	q := i
	for l := range sib {
		sib[l] = s.node(l, q^1)
		q >>= 1
	}
	return sib, nil
}

// VerifyWitness reports whether leaf is at index in the tree of the given depth and root,
// with siblings the witness of docs §4.3.
func VerifyWitness(root fr.Element, depth int, index uint32, leaf fr.Element, siblings []fr.Element) bool {
	if depth < 0 || depth > MaxTreeDepth || len(siblings) != depth || uint64(index) >= uint64(1)<<depth {
		return false
	}
	h := leaf
	for l := range siblings {
		if index>>l&1 == 0 {
			h = Compress(h, siblings[l])
		} else {
			h = Compress(siblings[l], h)
		}
	}
	return h.Equal(&root)
}

// setAccount stores a at index i and recomputes the path from its leaf to the root.
func (s *State) setAccount(i uint32, a Account) {
	if s.witnessed != nil && !s.witnessed[i] {
		panic(fmt.Sprintf("l2: write of account %d outside the witnessed paths of a partial state", i))
	}
	s.accounts[i] = a
	h := a.Leaf()
	q := i
	s.nodes[0][q] = h
	for l := 0; l < s.depth; l++ {
		sib := s.node(l, q^1)
		if q&1 == 0 {
			h = Compress(h, sib)
		} else {
			h = Compress(sib, h)
		}
		q >>= 1
		s.nodes[l+1][q] = h
	}
}

// Apply executes one transaction by docs §7 and returns its status and, for an applied
// withdraw, its withdrawal leaf (zero otherwise). If the status is not StatusOK the state is
// unchanged. tx must be structurally valid (every Tx from DecodeTx or DecodeBatch is); Apply
// panics otherwise, as that is a bug of the caller, not something a batch can cause.
func (s *State) Apply(tx *Tx, opts ApplyOptions) (Status, fr.Element) {
	if err := tx.Validate(); err != nil {
		panic(fmt.Sprintf("l2: Apply of a structurally invalid transaction: %v", err))
	}
	var none fr.Element
	switch tx.Type {
	case TxDeposit:
		return s.applyDeposit(tx), none
	case TxTransfer, TxTransferMLDSA:
		return s.applyTransfer(tx, opts), none
	case TxWithdraw, TxWithdrawMLDSA:
		return s.applyWithdraw(tx, opts)
	case TxRefund:
		return s.applyRefund(tx)
	}
	return StatusOK, none // no-op
}

// ApplyBatch applies txs in order with Apply and returns the trace and withdrawals of docs §8.
// Failing transactions leave the state unchanged and are reported by status. It panics if
// len(txs) > MaxBatchTxs (DecodeBatch never returns more).
func (s *State) ApplyBatch(txs []Tx, opts ApplyOptions) BatchResult {
	if len(txs) > MaxBatchTxs {
		panic(fmt.Sprintf("l2: ApplyBatch of %d transactions, at most %d", len(txs), MaxBatchTxs))
	}
	r := BatchResult{
		Statuses:         make([]Status, len(txs)),
		PostRoots:        make([]fr.Element, len(txs)),
		WithdrawalLeaves: make([]fr.Element, len(txs)),
	}
	root := s.Root()
	for k := range txs {
		st, wleaf := s.Apply(&txs[k], opts)
		if st == StatusOK {
			r.Applied++
			root = s.Root()
		} else {
			r.Rejected++
		}
		r.Statuses[k], r.PostRoots[k], r.WithdrawalLeaves[k] = st, root, wleaf
	}
	r.FinalRoot = root
	r.TraceRoot = ListRoot(r.PostRoots)
	r.WithdrawalRoot = ListRoot(r.WithdrawalLeaves)
	return r
}
