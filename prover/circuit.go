package prover

import (
	"fmt"
	"math/big"

	tedwards "github.com/consensys/gnark-crypto/ecc/twistededwards"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/algebra/native/twistededwards"
	"github.com/consensys/gnark/std/hash"
	"github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/rangecheck"
	"github.com/consensys/gnark/std/signature/eddsa"

	"github.com/pqbridge/pqbridge/l2"
)

// BatchCircuit is the validity circuit of docs/protocol.md §8.7: it proves that a batch of
// up to B transactions, every one with status ok, moves the state from PrevRoot to the new
// root by the rules of §7, and that the batch's commitment (§8.6) hashes to CommitmentHash,
// the only public input. Everything else is private and bound through that hash: L1
// recomputes it from the stored batch data.
//
// Make one with NewCircuit: the slices are sized by Params.
type BatchCircuit struct {
	CommitmentHash frontend.Variable `gnark:",public"`

	ChainID        frontend.Variable
	BatchNumber    frontend.Variable
	PrevRoot       frontend.Variable
	DepositsBefore frontend.Variable // dq_before

	Slots []Slot
}

// Slot is one transaction position of the batch. Positions at and after tx_count are padding:
// Padding = 1 and all five words zero (a no-op that is not part of the batch data).
type Slot struct {
	Words   [5]frontend.Variable // w0..w4 of docs §5.2
	Padding frontend.Variable

	// The integer fields of w0; the circuit proves w0 is exactly their packing.
	Type, From, To, Amount, Nonce frontend.Variable

	Sender    SenderWitness
	Recipient RecipientWitness
}

// SenderWitness is account A of a slot, at index From (the sender, or a deposit's target), in
// the state before the transaction, with its Merkle witness (docs §4.3) in that state.
type SenderWitness struct {
	Empty            frontend.Variable // 1: the index holds no account (deposits only)
	PubKeyX, PubKeyY frontend.Variable
	Balance, Nonce   frontend.Variable
	Siblings         []frontend.Variable
}

// RecipientWitness is account B of a transfer, at index To, in the state after the sender's
// update (the "mid" state: for a self-transfer that is the sender's updated account), with its
// Merkle witness in that state. Only the recipient's key hash H(pk.x, pk.y) is needed: the
// recipient signs nothing, and the leaf Compress(KeyHash, balance + 2^64·nonce) binds it.
type RecipientWitness struct {
	KeyHash        frontend.Variable
	Balance, Nonce frontend.Variable
	Siblings       []frontend.Variable
}

// NewCircuit returns a circuit of the given parameters with its slices sized, ready to compile
// or to fill as an assignment.
func NewCircuit(p Params) *BatchCircuit {
	c := &BatchCircuit{Slots: make([]Slot, p.BatchSize)}
	for i := range c.Slots {
		c.Slots[i].Sender.Siblings = make([]frontend.Variable, p.Depth)
		c.Slots[i].Recipient.Siblings = make([]frontend.Variable, p.Depth)
	}
	return c
}

// Powers of two of the packings: w0 (docs §5.2) and balance + 2^64·nonce (docs §4.2).
var (
	two64  = new(big.Int).Lsh(big.NewInt(1), 64)
	two128 = new(big.Int).Lsh(big.NewInt(1), 128)
	two160 = new(big.Int).Lsh(big.NewInt(1), 160)
	two192 = new(big.Int).Lsh(big.NewInt(1), 192)
)

func bigInt(e interface{ BigInt(*big.Int) *big.Int }) *big.Int { return e.BigInt(new(big.Int)) }

// gadgets holds what every slot uses.
type gadgets struct {
	api   frontend.API
	perm  *poseidon2.Permutation
	curve twistededwards.Curve
	rc    frontend.Rangechecker
	base  twistededwards.Point
}

// compress is docs §2.2 Compress.
func (g *gadgets) compress(a, b frontend.Variable) frontend.Variable { return g.perm.Compress(a, b) }

// u64 asserts 0 <= v < 2^64.
func (g *gadgets) u64(v frontend.Variable) { g.rc.Check(v, 64) }

// updatePath computes the roots of the same Merkle path (docs §4.3) with two leaves: the
// account before and after an update. The index bits and siblings are shared, so the leaf is
// the only thing that changes and the two roots differ only by that leaf.
func (g *gadgets) updatePath(oldLeaf, newLeaf frontend.Variable, bits, siblings []frontend.Variable) (oldRoot, newRoot frontend.Variable) {
	api := g.api
	hOld, hNew := oldLeaf, newLeaf
	for l, sib := range siblings {
		// bit 1: the node is a right child, its sibling is on the left.
		leftOld := api.Select(bits[l], sib, hOld)
		leftNew := api.Select(bits[l], sib, hNew)
		hOld = g.compress(leftOld, api.Sub(api.Add(hOld, sib), leftOld))
		hNew = g.compress(leftNew, api.Sub(api.Add(hNew, sib), leftNew))
	}
	return hOld, hNew
}

// listRoot is list_root of docs §8.1 over the B slot values, zero beyond them.
func (g *gadgets) listRoot(leaves []frontend.Variable) frontend.Variable {
	level := leaves
	for l := 0; l < l2.ListDepth; l++ {
		z := l2.EmptySubtree(l)
		if len(level)%2 == 1 {
			level = append(level[:len(level):len(level)], bigInt(&z))
		}
		next := make([]frontend.Variable, len(level)/2)
		for q := range next {
			next[q] = g.compress(level[2*q], level[2*q+1])
		}
		level = next
	}
	return level[0]
}

// batchState is what flows from slot to slot.
type batchState struct {
	root, deposits, dataHash frontend.Variable
	msgPrefix                frontend.Variable // H(TAG_TX, chain_id): the signed message's first two blocks
	traceLeaves, wLeaves     []frontend.Variable
	txCount                  frontend.Variable
	prevPadding              frontend.Variable
}

// Define implements frontend.Circuit.
func (c *BatchCircuit) Define(api frontend.API) error {
	if len(c.Slots) == 0 {
		return fmt.Errorf("prover: circuit without slots")
	}
	perm, err := poseidon2.NewPoseidon2(api)
	if err != nil {
		return err
	}
	curve, err := twistededwards.NewEdCurve(api, tedwards.BN254)
	if err != nil {
		return err
	}
	params := curve.Params()
	g := &gadgets{
		api: api, perm: perm, curve: curve, rc: rangecheck.New(api),
		base: twistededwards.Point{X: params.Base[0], Y: params.Base[1]},
	}

	st := &batchState{
		root:        c.PrevRoot,
		deposits:    c.DepositsBefore,
		dataHash:    0,
		msgPrefix:   g.compress(g.compress(0, bigInt(&l2.TagTx)), c.ChainID),
		txCount:     0,
		prevPadding: 0,
	}
	api.AssertIsEqual(c.Slots[0].Padding, 0) // a batch has at least one transaction (§8)
	for i := range c.Slots {
		if err := c.Slots[i].define(g, st); err != nil {
			return fmt.Errorf("slot %d: %w", i, err)
		}
	}

	commitment := frontend.Variable(0)
	for _, v := range []frontend.Variable{
		bigInt(&l2.TagCommit), c.ChainID, c.BatchNumber, c.PrevRoot, st.root,
		c.DepositsBefore, st.deposits, g.listRoot(st.wLeaves), st.dataHash,
		g.listRoot(st.traceLeaves), st.txCount,
	} {
		commitment = g.compress(commitment, v)
	}
	api.AssertIsEqual(commitment, c.CommitmentHash)
	return nil
}

// define adds the constraints of one slot and advances st.
func (s *Slot) define(g *gadgets, st *batchState) error {
	api := g.api
	depth := len(s.Sender.Siblings)
	if len(s.Recipient.Siblings) != depth {
		return fmt.Errorf("sender and recipient witnesses of different depths")
	}
	w := s.Words

	// w0 = type·2^192 + from·2^160 + to·2^128 + amount·2^64 + nonce with every field in range,
	// so the fields are exactly those of the header. from, to < 2^D excludes
	// index_out_of_range; their bits steer the Merkle paths.
	typeBits := api.ToBinary(s.Type, 2)
	fromBits := api.ToBinary(s.From, depth)
	toBits := api.ToBinary(s.To, depth)
	g.u64(s.Amount)
	g.u64(s.Nonce)
	api.AssertIsEqual(w[0], api.Add(api.Mul(s.Type, two192), api.Mul(s.From, two160),
		api.Mul(s.To, two128), api.Mul(s.Amount, two64), s.Nonce))

	// Type selectors (docs §5.1): 0 no-op, 1 deposit, 2 transfer, 3 withdraw. The type has 2
	// bits: refunds (4) and the ML-DSA types 5 and 6 are never proven (docs §8.7).
	t0, t1 := typeBits[0], typeBits[1]
	isWithdraw := api.Mul(t0, t1)
	isTransfer := api.Sub(t1, isWithdraw)
	isDeposit := api.Sub(t0, isWithdraw)
	isNoop := api.Sub(1, api.Add(t0, t1), api.Neg(isWithdraw))
	isSigned := t1
	isActive := api.Sub(1, isNoop)

	// Layout of docs §5.2: fields a type does not use are zero; a withdraw's w1 is below 2^160.
	api.AssertIsEqual(api.Mul(isNoop, w[0]), 0)
	api.AssertIsEqual(api.Mul(isNoop, w[2]), 0)
	api.AssertIsEqual(api.Mul(isNoop, w[3]), 0)
	api.AssertIsEqual(api.Mul(api.Sub(1, isSigned), w[4]), 0)
	api.AssertIsEqual(api.Mul(api.Sub(1, isWithdraw), w[1]), 0)
	api.AssertIsEqual(api.Mul(api.Sub(1, isTransfer), s.To), 0)
	api.AssertIsEqual(api.Mul(isDeposit, s.Nonce), 0)
	g.rc.Check(w[1], 160)

	// Padding: a suffix of the slots, each a no-op; tx_count counts the others.
	api.AssertIsBoolean(s.Padding)
	api.AssertIsEqual(api.Mul(st.prevPadding, api.Sub(1, s.Padding)), 0)
	api.AssertIsEqual(api.Mul(s.Padding, isActive), 0)
	st.prevPadding = s.Padding
	st.txCount = api.Add(st.txCount, api.Sub(1, s.Padding))

	// Data hash (§8.5): the words of the batch's transactions, not of the padding.
	h := st.dataHash
	for j := range w {
		h = g.compress(h, w[j])
	}
	st.dataHash = api.Select(s.Padding, st.dataHash, h)

	// Account A, the sender or the deposit's target, in the state before the transaction.
	// Its leaf is Compress(H(pk.x, pk.y), balance + 2^64·nonce) (docs §4.2), the key part
	// hashed once for the old and the new leaf. Only a deposit may find the index empty
	// (leaf 0), and then creates the account: sender_not_found is excluded.
	a := &s.Sender
	api.AssertIsBoolean(a.Empty)
	api.AssertIsEqual(api.Mul(a.Empty, api.Sub(1, isDeposit)), 0)
	api.AssertIsEqual(api.Mul(a.Empty, a.Balance), 0)
	api.AssertIsEqual(api.Mul(a.Empty, a.Nonce), 0)
	// A deposit's key is the account's: a new account gets it, an existing one must hold it
	// (pubkey_mismatch is excluded).
	api.AssertIsEqual(api.Mul(isDeposit, api.Sub(a.PubKeyX, w[2])), 0)
	api.AssertIsEqual(api.Mul(isDeposit, api.Sub(a.PubKeyY, w[3])), 0)
	// Balance and nonce are range-checked so that their packing is injective: the balance here,
	// the nonce through the new nonce (a deposit keeps it) or the transaction's (signed ones).
	g.u64(a.Balance)
	keyA := g.compress(g.compress(0, a.PubKeyX), a.PubKeyY)
	oldLeafA := api.Mul(api.Sub(1, a.Empty), g.compress(keyA, api.Add(a.Balance, api.Mul(a.Nonce, two64))))
	// Deposit: balance += amount; transfer, withdraw: balance -= amount, nonce += 1, and the
	// transaction's nonce is the account's. Range checks of the results exclude
	// balance_overflow, insufficient_balance and nonce_exhausted; the equality bad_nonce.
	newBalanceA := api.Add(a.Balance, api.Mul(api.Sub(isDeposit, isSigned), s.Amount))
	newNonceA := api.Add(a.Nonce, isSigned)
	g.u64(newBalanceA)
	g.u64(newNonceA)
	api.AssertIsEqual(api.Mul(isSigned, api.Sub(s.Nonce, a.Nonce)), 0)
	newLeafA := g.compress(keyA, api.Add(newBalanceA, api.Mul(newNonceA, two64)))
	oldRootA, midRoot := g.updatePath(oldLeafA, newLeafA, fromBits, a.Siblings)
	api.AssertIsEqual(api.Mul(isActive, api.Sub(oldRootA, st.root)), 0)

	// Account B, a transfer's recipient, in the mid state: it must exist (a leaf made by
	// Compress is never 0, so recipient_not_found is excluded), and is credited after the
	// sender's update, so a transfer to oneself only bumps the nonce (docs §7.3 step 10).
	b := &s.Recipient
	g.u64(b.Balance)
	g.u64(b.Nonce)
	credit := api.Mul(isTransfer, s.Amount)
	g.u64(api.Add(b.Balance, credit))
	packedB := api.Add(b.Balance, api.Mul(b.Nonce, two64))
	// B's two leaf hashes are only needed by transfers; other slots use the same two Compress
	// calls for the deposit queue (§8.4) or the withdrawal leaf (§8.3):
	//   transfer: c1 = Compress(keyB, packed),              c2 = Compress(keyB, packed + amount)
	//   deposit:  c1 = Compress(H(pk.x, pk.y), amount) = H(pk.x, pk.y, amount), c2 = Compress(dq, c1)
	//   withdraw: c1 = Compress(0, address),                c2 = Compress(c1, amount) = H(address, amount)
	// (a deposit's w1 is zero, a withdraw's address is in w1).
	c1 := g.compress(
		api.Add(api.Mul(isTransfer, b.KeyHash), api.Mul(isDeposit, keyA)),
		api.Add(api.Select(isTransfer, packedB, s.Amount), api.Mul(isWithdraw, api.Sub(w[1], s.Amount))))
	c2 := g.compress(
		api.Select(isTransfer, b.KeyHash, api.Select(isDeposit, st.deposits, c1)),
		api.Select(isTransfer, api.Add(packedB, credit), api.Select(isDeposit, c1, s.Amount)))
	oldRootB, newRootB := g.updatePath(c1, c2, toBits, b.Siblings)
	api.AssertIsEqual(api.Mul(isTransfer, api.Sub(oldRootB, midRoot)), 0)
	st.deposits = api.Select(isDeposit, c2, st.deposits)
	st.wLeaves = append(st.wLeaves, api.Mul(isWithdraw, c2))

	postRoot := api.Select(isTransfer, newRootB, api.Select(isNoop, st.root, midRoot))
	st.root = postRoot
	st.traceLeaves = append(st.traceLeaves, api.Mul(api.Sub(1, s.Padding), postRoot))

	// Signature (docs §6) of a transfer or withdraw under A's key. R and the key are replaced
	// by the base point in other slots, so that the unenforced check stays well defined.
	msg := g.compress(g.compress(st.msgPrefix, w[0]), w[1])
	sigR := twistededwards.Point{X: api.Select(isSigned, w[2], g.base.X), Y: api.Select(isSigned, w[3], g.base.Y)}
	sigKey := twistededwards.Point{X: api.Select(isSigned, a.PubKeyX, g.base.X), Y: api.Select(isSigned, a.PubKeyY, g.base.Y)}
	g.curve.AssertIsOnCurve(sigR)   // rule 1: gnark's verifier does not check R
	g.curve.AssertIsOnCurve(sigKey) // a key off the curve verifies nothing (l2.VerifyTx)
	// An ML-DSA account's key is (0, kh) (docs §4.2): it never signs an EdDSA transaction
	// (key_kind_mismatch, §7), even when kh = 1 makes it the curve's identity, under which any
	// R = S·B verifies. Types 5 and 6 themselves are excluded by the 2-bit type above (§8.7).
	// The base point of unsigned slots has x != 0.
	api.AssertIsDifferent(sigKey.X, 0)
	valid, err := eddsa.IsValid(g.curve, eddsa.Signature{R: sigR, S: w[4]}, msg,
		eddsa.PublicKey{A: sigKey}, hash.NewMerkleDamgardHasher(api, g.perm, 0))
	if err != nil {
		return err
	}
	api.AssertIsEqual(api.Mul(isSigned, api.Sub(1, valid)), 0)
	return nil
}
