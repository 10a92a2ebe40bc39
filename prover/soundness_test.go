package prover

import (
	"math"
	"math/big"
	"math/bits"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/consensys/gnark/frontend"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// The soundness tests forge a witness that is consistent in every respect but one rule of
// docs/protocol.md: the forged transaction is the last of the batch, its effects are computed
// by the circuit's own arithmetic in Go (recommit: balances wrap modulo p, roots follow the
// forged leaves), and the public commitment hash is recomputed from them, as a cheating prover
// would. Each case also has a valid twin built the same way, which must solve: so the failure
// is the rule's, not an artefact of the forging.

// Accounts of the soundness scenario, in a tree of depth soundDepth.
const (
	soundDepth = 4
	alice      = 1  // balance 1000, nonce 5
	bob        = 2  // balance 2^64-10
	carol      = 6  // nonce 2^64-1: every transaction of hers is nonce_exhausted
	dave       = 9  // balance 7, nonce 1
	fresh      = 12 // empty before the batch
	pq         = 3  // an ML-DSA account (docs §4.2) of key hash 1: key (0, 1), the curve's identity; balance 990, nonce 6
	empty      = 13 // empty throughout
)

var soundParams = Params{Depth: soundDepth, BatchSize: 5}

// scalarBase is the secret scalar of alice's key; bob, carol and dave have the next ones.
const scalarBase = 77

// signWords signs the message of arbitrary header and w1 words (docs §6) with the key of
// scalar, as l2test.Signer does for a Tx: for words no Tx can hold (w1 >= 2^160, or a w1 on a
// transfer). It returns w2, w3, w4.
func signWords(scalar int64, w0, w1 fr.Element) [3]fr.Element {
	curve := twistededwards.GetEdwardsCurve()
	k := big.NewInt(scalar)
	var pk, r twistededwards.PointAffine
	pk.ScalarMultiplicationBase(k)
	var chain fr.Element
	chain.SetUint64(testChainID)
	msg := l2.HashMD(l2.TagTx, chain, w0, w1)
	var nonce big.Int
	rh := l2.HashMD(fr.NewElement(uint64(scalar)), msg)
	rh.BigInt(&nonce)
	nonce.Mod(&nonce, &curve.Order)
	r.ScalarMultiplicationBase(&nonce)
	var c big.Int
	ch := l2.HashMD(r.X, r.Y, pk.X, pk.Y, msg)
	ch.BigInt(&c)
	c.Mul(&c, k).Add(&c, &nonce).Mod(&c, &curve.Order)
	var sig fr.Element
	sig.SetBigInt(&c)
	return [3]fr.Element{r.X, r.Y, sig}
}

// setWords replaces w0 (if not nil) and w1 of slot s and signs them with the key of scalar.
func setWords(s *Slot, scalar int64, w0, w1 *big.Int) {
	if w0 != nil {
		s.Words[0] = w0
	}
	s.Words[1] = w1
	var e0, e1 fr.Element
	e0.SetBigInt(s.Words[0].(*big.Int))
	e1.SetBigInt(w1)
	sig := signWords(scalar, e0, e1)
	for j := range sig {
		s.Words[2+j] = felt(sig[j])
	}
}

// leafOf is the leaf of the account at i in state (0 if empty).
func leafOf(state *l2.State, i uint32) fr.Element {
	if a, ok := state.Account(i); ok {
		return a.Leaf()
	}
	return fr.Element{}
}

type scenario struct {
	t       *testing.T
	keys    map[uint32]*l2test.Signer
	eve     *l2test.Signer // owns no account
	erin    *l2test.Signer // the fresh account's key
	state   *l2.State      // after the prefix
	prefix  []l2.Tx
	trace   *BatchTrace
	dqAfter fr.Element // the deposit chain after the prefix, from dq_before = 0
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	sc := &scenario{t: t, keys: make(map[uint32]*l2test.Signer)}
	for i, idx := range []uint32{alice, bob, carol, dave} {
		sc.keys[idx] = l2test.NewSigner(big.NewInt(scalarBase + int64(i)))
	}
	sc.eve = l2test.NewSigner(big.NewInt(99))
	sc.erin = l2test.NewSigner(big.NewInt(98))
	acc := func(i uint32, bal, nonce uint64) l2.IndexedAccount {
		return l2.IndexedAccount{Index: i, Account: l2.Account{PubKey: sc.keys[i].Public(), Balance: bal, Nonce: nonce}}
	}
	s, err := l2.NewStateFromAccounts(soundDepth, []l2.IndexedAccount{
		acc(alice, 1000, 5), acc(bob, math.MaxUint64-10, 0),
		{Index: pq, Account: l2.Account{PubKey: l2.PublicKey{Y: fr.One()}, Balance: 990, Nonce: 6}},
		acc(carol, 50, math.MaxUint64), acc(dave, 7, 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	// A valid prefix of every kind of state change: alice 990 nonce 6, dave 14 nonce 2.
	sc.prefix = []l2.Tx{
		{Type: l2.TxDeposit, From: fresh, Amount: 100, PubKey: sc.erin.Public()},
		sc.sign(alice, l2.Tx{Type: l2.TxTransfer, From: alice, To: dave, Amount: 10, Nonce: 5}),
		sc.sign(dave, l2.Tx{Type: l2.TxWithdraw, From: dave, Amount: 3, Nonce: 1, Address: [20]byte{0xaa}}),
	}
	if sc.trace, err = (&ReferenceSource{State: s}).ApplyBatchWitness(sc.prefix); err != nil {
		t.Fatal(err)
	}
	for k, st := range sc.trace.Statuses {
		if st != l2.StatusOK {
			t.Fatalf("prefix transaction %d: %v", k, st)
		}
	}
	sc.state = s
	sc.dqAfter = l2.NextDepositChain(fr.Element{}, l2.DepositHash(sc.erin.Public(), 100))
	return sc
}

// sign signs tx with the key of account idx.
func (sc *scenario) sign(idx uint32, tx l2.Tx) l2.Tx {
	sc.keys[idx].Sign(testChainID, &tx, l2test.TorsionPoint(1))
	return tx
}

// forge returns the assignment of the prefix followed by last, built without any check of
// last's validity. witness changes the assignment before recommit derives the commitment;
// claim changes the commitment, and the prover's private header (chain ID, batch number,
// previous root, dq_before) follows it; l1 changes only the commitment whose hash is the public
// input, as L1 would compute a different one.
func (sc *scenario) forge(m mutation) *BatchCircuit {
	t := sc.t
	t.Helper()
	a, err := Assign(soundParams, &Batch{ChainID: testChainID, BatchNumber: 3, Txs: sc.prefix}, sc.trace)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Circuit
	s := &c.Slots[len(sc.prefix)]
	forgeSlot(t, s, &m.last, sc.state)
	if m.witness != nil {
		m.witness(c, s)
	}
	com := recommit(t, c, true)
	if m.claim != nil {
		m.claim(&com)
	}
	c.ChainID, c.BatchNumber = com.ChainID, com.BatchNumber
	c.PrevRoot, c.DepositsBefore = felt(com.PrevRoot), felt(com.DepositsBefore)
	if m.l1 != nil {
		m.l1(&com)
	}
	c.CommitmentHash = felt(com.Hash())
	return c
}

// mutation is how a soundness case builds the last transaction of the batch: see forge.
type mutation struct {
	last    l2.Tx
	witness func(c *BatchCircuit, s *Slot)
	claim   func(com *l2.Commitment)
	l1      func(com *l2.Commitment)
}

// forgeSlot fills s with tx and the accounts it reads in state, as Assign does but without
// checking anything; the recipient's witness is in the state before the transaction (recommit
// moves it to the mid state).
func forgeSlot(t *testing.T, s *Slot, tx *l2.Tx, state *l2.State) {
	t.Helper()
	words := tx.Words()
	for j := range words {
		s.Words[j] = felt(words[j])
	}
	s.Padding = 0
	s.Type, s.From, s.To, s.Amount, s.Nonce = uint8(tx.Type), tx.From, tx.To, tx.Amount, tx.Nonce
	if tx.Type == l2.TxNoop {
		return // the slot reads no account: Assign's zero witness stays
	}
	a, err := referenceWitness(state, tx.From)
	if err != nil {
		t.Fatal(err)
	}
	pk := a.Account.PubKey
	if tx.Type == l2.TxDeposit && !a.Exists {
		pk = tx.PubKey
	}
	s.Sender.Empty = boolInt(!a.Exists)
	s.Sender.PubKeyX, s.Sender.PubKeyY = felt(pk.X), felt(pk.Y)
	s.Sender.Balance, s.Sender.Nonce = a.Account.Balance, a.Account.Nonce
	for l := range a.Siblings {
		s.Sender.Siblings[l] = felt(a.Siblings[l])
	}
	if tx.Type != l2.TxTransfer {
		return
	}
	b, err := referenceWitness(state, tx.To)
	if err != nil {
		t.Fatal(err)
	}
	s.Recipient.KeyHash = felt(l2.HashMD(b.Account.PubKey.X, b.Account.PubKey.Y))
	s.Recipient.Balance, s.Recipient.Nonce = b.Account.Balance, b.Account.Nonce
	for l := range b.Siblings {
		s.Recipient.Siblings[l] = felt(b.Siblings[l])
	}
}

// recommit recomputes in Go what the circuit derives from the assignment (roots, the trace and
// withdrawal list leaves at the slot positions, deposit chain, data hash, tx_count), without
// checking any rule, and returns the commitment they give. With moveRecipient, a transfer's
// recipient witness is first moved to the mid state of the (possibly forged) sender update: the
// sibling where the two paths meet becomes the sender's new node, and for a transfer to oneself
// the recipient becomes the updated sender.
func recommit(t *testing.T, c *BatchCircuit, moveRecipient bool) l2.Commitment {
	t.Helper()
	var two64 fr.Element
	two64.SetString("18446744073709551616")
	packed := func(bal, nonce fr.Element) fr.Element {
		var r fr.Element
		r.Mul(&nonce, &two64)
		return *r.Add(&r, &bal)
	}
	path := func(leaf fr.Element, index uint32, sib []fr.Element) []fr.Element {
		nodes := []fr.Element{leaf}
		for l := range sib {
			if index>>l&1 == 0 {
				nodes = append(nodes, l2.Compress(nodes[l], sib[l]))
			} else {
				nodes = append(nodes, l2.Compress(sib[l], nodes[l]))
			}
		}
		return nodes
	}
	elems := func(v []frontend.Variable) []fr.Element {
		out := make([]fr.Element, len(v))
		for i := range v {
			out[i] = fe(t, v[i])
		}
		return out
	}
	com := l2.Commitment{ChainID: feU64(t, c.ChainID), BatchNumber: feU64(t, c.BatchNumber),
		PrevRoot: fe(t, c.PrevRoot), DepositsBefore: fe(t, c.DepositsBefore)}
	root, dq := com.PrevRoot, com.DepositsBefore
	var trace, wleaves []fr.Element
	for k := range c.Slots {
		s := &c.Slots[k]
		typ, from, to := feU64(t, s.Type), uint32(feU64(t, s.From)), uint32(feU64(t, s.To))
		amount := fe(t, s.Amount)
		isDeposit, isTransfer, isWithdraw, isNoop := typ == 1, typ == 2, typ == 3, typ == 0
		if feU64(t, s.Padding) == 0 {
			for j := range s.Words {
				com.DataHash = l2.Compress(com.DataHash, fe(t, s.Words[j]))
			}
			com.TxCount++
		}
		a := &s.Sender
		keyA := l2.HashMD(fe(t, a.PubKeyX), fe(t, a.PubKeyY))
		bal, nonce := fe(t, a.Balance), fe(t, a.Nonce)
		switch {
		case isDeposit:
			bal.Add(&bal, &amount)
		case isTransfer || isWithdraw:
			bal.Sub(&bal, &amount)
			nonce.Add(&nonce, new(fr.Element).SetOne())
		}
		nodesA := path(l2.Compress(keyA, packed(bal, nonce)), from, elems(a.Siblings))
		mid := nodesA[len(nodesA)-1]

		b := &s.Recipient
		if moveRecipient && isTransfer {
			if from == to {
				b.KeyHash, b.Balance, b.Nonce = felt(keyA), felt(bal), felt(nonce)
			} else if m := bits.Len32(from^to) - 1; m < len(b.Siblings) {
				b.Siblings[m] = felt(nodesA[m])
			}
		}
		var c1, c2 fr.Element
		switch {
		case isTransfer:
			pb := packed(fe(t, b.Balance), fe(t, b.Nonce))
			c1 = l2.Compress(fe(t, b.KeyHash), pb)
			c2 = l2.Compress(fe(t, b.KeyHash), *pb.Add(&pb, &amount))
		case isDeposit:
			c1 = l2.Compress(keyA, amount)
			c2 = l2.Compress(dq, c1)
			dq = c2
		case isWithdraw:
			c1 = l2.Compress(fr.Element{}, fe(t, s.Words[1]))
			c2 = l2.Compress(c1, amount)
		}
		nodesB := path(c2, to, elems(b.Siblings))
		switch {
		case isTransfer:
			root = nodesB[len(nodesB)-1]
		case !isNoop:
			root = mid
		}
		var tl fr.Element // the circuit's trace leaf: 0 at a padding position
		if feU64(t, s.Padding) == 0 {
			tl = root
		}
		trace = append(trace, tl)
		var wl fr.Element
		if isWithdraw {
			wl = c2
		}
		wleaves = append(wleaves, wl)
	}
	com.NewRoot, com.DepositsAfter = root, dq
	com.TraceRoot, com.WithdrawalRoot = l2.ListRoot(trace), l2.ListRoot(wleaves)
	return com
}

// TestRecommitAgreesWithAssign checks the forging machinery on an honest batch: recommit gives
// Assign's commitment, and the forged assignment of a valid last transaction solves.
func TestRecommitAgreesWithAssign(t *testing.T) {
	sc := newScenario(t)
	a, err := Assign(soundParams, &Batch{ChainID: testChainID, BatchNumber: 3, Txs: sc.prefix}, sc.trace)
	if err != nil {
		t.Fatal(err)
	}
	if com := recommit(t, a.Circuit, false); com != a.Commitment {
		t.Fatalf("recommit %+v, Assign %+v", com, a.Commitment)
	}
	if err := isSolved(soundParams, a.Circuit); err != nil {
		t.Fatal(err)
	}
}

func TestSoundness(t *testing.T) {
	sc := newScenario(t)
	l := twistededwards.GetEdwardsCurve().Order
	transfer := func(from, to uint32, amount, nonce uint64) l2.Tx {
		return sc.sign(from, l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: nonce})
	}
	withdraw := func(from uint32, amount, nonce uint64) l2.Tx {
		return sc.sign(from, l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: nonce, Address: [20]byte{1, 2, 3}})
	}
	deposit := func(to uint32, key *l2test.Signer, amount uint64) l2.Tx {
		return l2.Tx{Type: l2.TxDeposit, From: to, Amount: amount, PubKey: key.Public()}
	}
	signedBy := func(s *l2test.Signer, tx l2.Tx) l2.Tx {
		s.Sign(testChainID, &tx, l2test.TorsionPoint(1))
		return tx
	}
	okTransfer := transfer(alice, dave, 990, 6) // alice's whole balance after the prefix
	// identitySigned signs tx for the key (0, 1), the identity: c·pk vanishes, so R = S·B
	// verifies by the cofactored rule of docs §6 for any message (l2.VerifyTx says so too).
	identitySigned := func(tx l2.Tx) l2.Tx {
		var r twistededwards.PointAffine
		r.ScalarMultiplicationBase(big.NewInt(5))
		tx.Sig = l2.Signature{RX: r.X, RY: r.Y, S: fr.NewElement(5)}
		if !l2.VerifyTx(l2.PublicKey{Y: fr.One()}, testChainID, &tx) {
			t.Fatal("the identity key does not verify R = S·B")
		}
		return tx
	}
	mldsaTx := func(tx l2.Tx) l2.Tx {
		tx.SigDigest = l2.MLDSASigDigest([]byte("a signature the circuit never sees"))
		return tx
	}

	cases := []struct {
		name           string
		valid, invalid mutation
	}{
		// Signatures (docs §6).
		{"bad signature", mutation{last: okTransfer}, mutation{last: func() l2.Tx {
			tx := okTransfer
			tx.Sig.S.Add(&tx.Sig.S, new(fr.Element).SetOne())
			return tx
		}()}},
		{"wrong signer", mutation{last: okTransfer}, mutation{last: signedBy(sc.eve, l2.Tx{Type: l2.TxTransfer, From: alice, To: dave, Amount: 990, Nonce: 6})}},
		{"signature of another chain", mutation{last: okTransfer}, mutation{last: func() l2.Tx {
			tx := l2.Tx{Type: l2.TxTransfer, From: alice, To: dave, Amount: 990, Nonce: 6}
			sc.keys[alice].Sign(testChainID+1, &tx, l2test.TorsionPoint(1))
			return tx
		}()}},
		{"commitment of another chain", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) { com.ChainID++ }}},
		{"R not on the curve", mutation{last: okTransfer}, mutation{last: func() l2.Tx {
			tx := okTransfer
			tx.Sig.RY.Add(&tx.Sig.RY, new(fr.Element).SetOne())
			return tx
		}()}},
		{"S not below L", mutation{last: okTransfer}, mutation{last: func() l2.Tx {
			tx := okTransfer // S + L satisfies the equation: only rule 2 rejects it
			var sl big.Int
			tx.Sig.S.BigInt(&sl)
			tx.Sig.S.SetBigInt(sl.Add(&sl, &l))
			return tx
		}()}},
		{"withdraw signed by another key", mutation{last: withdraw(alice, 5, 6)}, mutation{last: signedBy(sc.eve, l2.Tx{Type: l2.TxWithdraw, From: alice, Amount: 5, Nonce: 6, Address: [20]byte{1, 2, 3}})}},
		{"stolen account: sender key replaced in the witness", mutation{last: withdraw(dave, 14, 2)}, mutation{
			last: signedBy(sc.eve, l2.Tx{Type: l2.TxWithdraw, From: dave, Amount: 14, Nonce: 2, Address: [20]byte{1, 2, 3}}),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Sender.PubKeyX, s.Sender.PubKeyY = felt(sc.eve.Public().X), felt(sc.eve.Public().Y)
			}}},

		// Balances and nonces (docs §7).
		{"overspend", mutation{last: okTransfer}, mutation{last: transfer(alice, dave, 991, 6)}},
		{"withdraw overspend", mutation{last: withdraw(alice, 990, 6)}, mutation{last: withdraw(alice, 991, 6)}},
		{"transfer overflow", mutation{last: transfer(alice, bob, 10, 6)}, mutation{last: transfer(alice, bob, 11, 6)}},
		{"deposit overflow", mutation{last: deposit(bob, sc.keys[bob], 10)}, mutation{last: deposit(bob, sc.keys[bob], 11)}},
		{"self-transfer beyond the balance", mutation{last: transfer(alice, alice, 990, 6)}, mutation{last: transfer(alice, alice, 991, 6)}},
		{"nonce ahead", mutation{last: okTransfer}, mutation{last: transfer(alice, dave, 990, 7)}},
		{"nonce replayed", mutation{last: okTransfer}, mutation{last: transfer(alice, dave, 990, 5)}},
		{"nonce exhausted", mutation{last: okTransfer}, mutation{last: transfer(carol, alice, 1, math.MaxUint64)}},
		// A field-valued amount p - k (docs/prover.md): w0 holds it as the field element it is,
		// and the balance arithmetic wraps, so without the 64-bit check of amount the sender would
		// be credited k and, in a transfer, the recipient debited k, signed by the sender only.
		{"transfer of a field-valued amount p - 5", mutation{last: transfer(alice, dave, 5, 6)}, mutation{last: transfer(alice, dave, 5, 6),
			witness: fieldAmount(5)}},
		{"withdraw of a field-valued amount p - 5", mutation{last: withdraw(alice, 5, 6)}, mutation{last: withdraw(alice, 5, 6),
			witness: fieldAmount(5)}},
		// The packed value balance + 2^64·nonce split another way gives the same leaf: every
		// balance and nonce, before and after, is range-checked so that only one split fits.
		{"sender balance and nonce split: replayed nonce spends beyond the balance", mutation{last: withdraw(alice, 990, 6)}, mutation{
			// balance 990 + 2^64, nonce 5: a withdraw of 2^64-1 with the spent nonce 5.
			last: withdraw(alice, math.MaxUint64, 5),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Sender.Balance = new(big.Int).Add(big.NewInt(990), two64)
				s.Sender.Nonce = 5
			}}},
		{"deposit overflow hidden by a split: balance - 2^64", mutation{last: deposit(bob, sc.keys[bob], 10)}, mutation{last: deposit(bob, sc.keys[bob], 11),
			witness: func(c *BatchCircuit, s *Slot) {
				var bal fr.Element
				bal.SetUint64(math.MaxUint64 - 10)
				bal.Sub(&bal, new(fr.Element).SetBigInt(two64))
				s.Sender.Balance, s.Sender.Nonce = felt(bal), 1
			}}},
		{"deposit overflow hidden by a split: balance 0", mutation{last: deposit(bob, sc.keys[bob], 10)}, mutation{last: deposit(bob, sc.keys[bob], 11),
			witness: func(c *BatchCircuit, s *Slot) {
				var nonce fr.Element // packed / 2^64
				nonce.SetUint64(math.MaxUint64 - 10)
				nonce.Div(&nonce, new(fr.Element).SetBigInt(two64))
				s.Sender.Balance, s.Sender.Nonce = 0, felt(nonce)
			}}},
		{"transfer overflow hidden by a split recipient: balance - 2^64", mutation{last: transfer(alice, bob, 10, 6)}, mutation{last: transfer(alice, bob, 20, 6),
			witness: func(c *BatchCircuit, s *Slot) {
				var bal fr.Element
				bal.SetUint64(math.MaxUint64 - 10)
				bal.Sub(&bal, new(fr.Element).SetBigInt(two64))
				s.Recipient.Balance, s.Recipient.Nonce = felt(bal), 1
			}}},
		{"transfer overflow hidden by a split recipient: balance 0", mutation{last: transfer(alice, bob, 10, 6)}, mutation{last: transfer(alice, bob, 20, 6),
			witness: func(c *BatchCircuit, s *Slot) {
				var nonce fr.Element
				nonce.SetUint64(math.MaxUint64 - 10)
				nonce.Div(&nonce, new(fr.Element).SetBigInt(two64))
				s.Recipient.Balance, s.Recipient.Nonce = 0, felt(nonce)
			}}},

		// Accounts bound to their leaves and paths (docs §4).
		{"sender balance not the leaf's", mutation{last: okTransfer}, mutation{last: transfer(alice, dave, 990, 6),
			witness: func(c *BatchCircuit, s *Slot) { s.Sender.Balance = uint64(5000) }}},
		{"sender nonce not the leaf's", mutation{last: okTransfer}, mutation{last: transfer(alice, dave, 990, 7),
			witness: func(c *BatchCircuit, s *Slot) { s.Sender.Nonce = uint64(7) }}},
		{"recipient balance not the leaf's", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) { s.Recipient.Balance = uint64(1) }}},
		{"recipient key not the leaf's", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) {
				s.Recipient.KeyHash = felt(l2.HashMD(sc.eve.Public().X, sc.eve.Public().Y))
			}}},
		{"sender sibling changed", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) { s.Sender.Siblings[2] = 12345 }}},
		{"recipient path of another index", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) {
				w, _ := referenceWitness(sc.state, bob)
				bobAcc, _ := sc.state.Account(bob)
				s.Recipient.KeyHash = felt(l2.HashMD(bobAcc.PubKey.X, bobAcc.PubKey.Y))
				s.Recipient.Balance, s.Recipient.Nonce = bobAcc.Balance, bobAcc.Nonce
				for l := range w.Siblings {
					s.Recipient.Siblings[l] = felt(w.Siblings[l])
				}
			}}},
		{"sender not found", mutation{last: okTransfer}, mutation{last: signedBy(sc.eve, l2.Tx{Type: l2.TxTransfer, From: empty, To: dave, Amount: 0, Nonce: 0}),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Sender.PubKeyX, s.Sender.PubKeyY = felt(sc.eve.Public().X), felt(sc.eve.Public().Y)
			}}},
		{"sender made up at an empty index", mutation{last: okTransfer}, mutation{last: signedBy(sc.eve, l2.Tx{Type: l2.TxTransfer, From: empty, To: dave, Amount: 5, Nonce: 0}),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Sender.Empty = 0
				s.Sender.PubKeyX, s.Sender.PubKeyY = felt(sc.eve.Public().X), felt(sc.eve.Public().Y)
				s.Sender.Balance = uint64(1000)
			}}},
		{"recipient not found", mutation{last: okTransfer}, mutation{last: transfer(alice, empty, 990, 6),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Recipient.KeyHash = felt(l2.HashMD(sc.eve.Public().X, sc.eve.Public().Y))
			}}},
		{"pubkey mismatch", mutation{last: deposit(alice, sc.keys[alice], 5)}, mutation{last: deposit(alice, sc.eve, 5)}},
		{"pubkey mismatch in x only", mutation{last: deposit(alice, sc.keys[alice], 5)}, mutation{last: func() l2.Tx {
			tx := deposit(alice, sc.keys[alice], 5) // -pk = (-x, y) is on the curve
			tx.PubKey.X.Neg(&tx.PubKey.X)
			return tx
		}()}},
		{"pubkey mismatch in y only", mutation{last: deposit(alice, sc.keys[alice], 5)}, mutation{last: func() l2.Tx {
			tx := deposit(alice, sc.keys[alice], 5) // (x, -y) = -pk + the point of order 2
			tx.PubKey.Y.Neg(&tx.PubKey.Y)
			return tx
		}()}},
		{"deposit claims an occupied index is empty", mutation{last: deposit(fresh, sc.erin, 5)}, mutation{last: deposit(fresh, sc.eve, 5),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Sender.Empty, s.Sender.Balance, s.Sender.Nonce = 1, 0, 0
				s.Sender.PubKeyX, s.Sender.PubKeyY = felt(sc.eve.Public().X), felt(sc.eve.Public().Y)
			}}},
		{"new account with another key than the deposit's", mutation{last: deposit(empty, sc.eve, 5)}, mutation{last: deposit(empty, sc.eve, 5),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Sender.PubKeyX, s.Sender.PubKeyY = felt(sc.erin.Public().X), felt(sc.erin.Public().Y)
			}}},

		{"new account created with a balance of its own", mutation{last: deposit(empty, sc.eve, 5)}, mutation{last: deposit(empty, sc.eve, 5),
			witness: func(c *BatchCircuit, s *Slot) { s.Sender.Balance = uint64(1000) }}},
		{"new account created with a nonce", mutation{last: deposit(empty, sc.eve, 5)}, mutation{last: deposit(empty, sc.eve, 5),
			witness: func(c *BatchCircuit, s *Slot) { s.Sender.Nonce = uint64(3) }}},
		{"occupied account overwritten through a non-boolean empty flag", mutation{last: deposit(empty, sc.eve, 5)}, mutation{last: deposit(alice, sc.eve, 5),
			witness: func(c *BatchCircuit, s *Slot) {
				// old leaf = (1 - e)·Compress(H(eve), 0) = alice's leaf: alice's account would
				// become eve's, with the deposit as its balance.
				h := l2.Compress(l2.HashMD(sc.eve.Public().X, sc.eve.Public().Y), fr.Element{})
				e := leafOf(sc.state, alice)
				e.Div(&e, &h)
				e.Sub(new(fr.Element).SetOne(), &e)
				s.Sender.Empty, s.Sender.Balance, s.Sender.Nonce = felt(e), 0, 0
				s.Sender.PubKeyX, s.Sender.PubKeyY = felt(sc.eve.Public().X), felt(sc.eve.Public().Y)
			}}},

		// Transaction encoding (docs §5.2).
		{"recipient index out of range", mutation{last: okTransfer}, mutation{last: transfer(alice, 1<<soundDepth, 990, 6)}},
		{"sender index out of range", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) {
				// The same Merkle path: only bits at and above the depth differ.
				s.From = uint32(alice + 1<<soundDepth)
				w0 := new(big.Int).Add(s.Words[0].(*big.Int), new(big.Int).Lsh(big.NewInt(1<<soundDepth), 160))
				setWords(s, scalarBase, w0, big.NewInt(0))
			}}},
		{"type not the header's", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) { s.Type = 0 }}},
		{"header fields split differently", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) {
				// The same w0 with amount + 2^64 borrowed from the to field.
				s.To, s.Amount = uint32(dave-1), new(big.Int).Add(big.NewInt(990), two64)
			}}},
		// ML-DSA accounts (docs §4.2, §8.7): the circuit proves EdDSA transactions only. pq's
		// twin is alice, with the same balance and nonce after the prefix.
		{"EdDSA transfer from an ML-DSA account (key (0, 1))", mutation{last: transfer(alice, dave, 500, 6)},
			mutation{last: identitySigned(l2.Tx{Type: l2.TxTransfer, From: pq, To: dave, Amount: 500, Nonce: 6})}},
		{"EdDSA withdraw from an ML-DSA account (key (0, 1))", mutation{last: withdraw(alice, 5, 6)},
			mutation{last: identitySigned(l2.Tx{Type: l2.TxWithdraw, From: pq, Amount: 5, Nonce: 6, Address: [20]byte{1, 2, 3}})}},
		{"a transfer_mldsa (type 5) in a proof", mutation{last: transfer(alice, dave, 500, 6)},
			mutation{last: mldsaTx(l2.Tx{Type: l2.TxTransferMLDSA, From: pq, To: dave, Amount: 500, Nonce: 6})}},
		{"a withdraw_mldsa (type 6) in a proof", mutation{last: withdraw(alice, 5, 6)},
			mutation{last: mldsaTx(l2.Tx{Type: l2.TxWithdrawMLDSA, From: pq, Amount: 5, Nonce: 6, Address: [20]byte{1, 2, 3}})}},
		// A refund is proven by no circuit (docs/protocol.md §8.7): one forced into a witness,
		// consuming the deposit entry its valid twin places, must not prove.
		{"a refund (type 4) in a proof", mutation{last: deposit(fresh, sc.erin, 5)},
			mutation{last: l2.Tx{Type: l2.TxRefund, Amount: 5, PubKey: sc.erin.Public(), Address: [20]byte{7}}}},
		{"deposit with a to field", mutation{last: deposit(fresh, sc.erin, 5)}, mutation{last: deposit(fresh, sc.erin, 5),
			witness: func(c *BatchCircuit, s *Slot) {
				s.To = uint32(3)
				s.Words[0] = new(big.Int).Add(s.Words[0].(*big.Int), new(big.Int).Lsh(big.NewInt(3), 128))
			}}},
		{"withdraw with a to field", mutation{last: withdraw(alice, 5, 6)}, mutation{last: withdraw(alice, 5, 6),
			witness: func(c *BatchCircuit, s *Slot) {
				s.To = uint32(dave)
				w0 := new(big.Int).Add(s.Words[0].(*big.Int), new(big.Int).Lsh(big.NewInt(dave), 128))
				setWords(s, scalarBase, w0, s.Words[1].(*big.Int))
			}}},
		{"deposit with a w1", mutation{last: deposit(fresh, sc.erin, 5)}, mutation{last: deposit(fresh, sc.erin, 5),
			witness: func(c *BatchCircuit, s *Slot) { s.Words[1] = 9 }}},
		// (setWords re-signs the changed words: the valid twins check that it signs right.)
		{"withdraw address beyond 160 bits", mutation{last: withdraw(alice, 5, 6),
			witness: func(c *BatchCircuit, s *Slot) { setWords(s, scalarBase, nil, new(big.Int).Lsh(big.NewInt(1), 159)) }},
			mutation{last: withdraw(alice, 5, 6),
				witness: func(c *BatchCircuit, s *Slot) { setWords(s, scalarBase, nil, new(big.Int).Lsh(big.NewInt(1), 170)) }}},
		{"transfer with a w1", mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) { setWords(s, scalarBase, nil, big.NewInt(0)) }},
			mutation{last: okTransfer,
				witness: func(c *BatchCircuit, s *Slot) { setWords(s, scalarBase, nil, big.NewInt(12345)) }}},
		{"deposit with a nonce field", mutation{last: deposit(fresh, sc.erin, 5)}, mutation{last: deposit(fresh, sc.erin, 5),
			witness: func(c *BatchCircuit, s *Slot) {
				s.Nonce = uint64(7)
				s.Words[0] = new(big.Int).Add(s.Words[0].(*big.Int), big.NewInt(7))
			}}},
		{"deposit with a w4", mutation{last: deposit(fresh, sc.erin, 5)}, mutation{last: deposit(fresh, sc.erin, 5),
			witness: func(c *BatchCircuit, s *Slot) { s.Words[4] = 9 }}},
		{"no-op with a header", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			witness: func(c *BatchCircuit, s *Slot) {
				s.Amount, s.Words[0] = uint64(5), new(big.Int).Lsh(big.NewInt(5), 64)
			}}},
		{"no-op with w2", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			witness: func(c *BatchCircuit, s *Slot) { s.Words[2] = 5 }}},
		{"no-op with w3", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			witness: func(c *BatchCircuit, s *Slot) { s.Words[3] = 5 }}},
		{"no-op with w1", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			witness: func(c *BatchCircuit, s *Slot) { s.Words[1] = 5 }}},
		{"no-op with w4", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			witness: func(c *BatchCircuit, s *Slot) { s.Words[4] = 5 }}},

		// Padding and tx_count (docs §8.7).
		{"transaction hidden in the padding", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) { s.Padding = 1 }}},
		{"padding flag on an earlier transaction", mutation{last: okTransfer}, mutation{last: okTransfer,
			witness: func(c *BatchCircuit, s *Slot) { c.Slots[1].Padding = 1 }}},
		{"padding not a suffix", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			// [txs, padding, no-op] would prove the same data as [txs, no-op, padding]: the
			// suffix rule keeps the witness canonical.
			witness: func(c *BatchCircuit, s *Slot) { s.Padding, c.Slots[len(c.Slots)-1].Padding = 1, 0 }}},
		{"empty batch", mutation{last: l2.Tx{}}, mutation{last: l2.Tx{},
			witness: func(c *BatchCircuit, s *Slot) {
				// Every slot a padding no-op: tx_count 0, the roots unchanged.
				for k := range c.Slots {
					assignPadding(&c.Slots[k])
				}
			}}},
		{"tx_count not the batch's", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) { com.TxCount = 5 }}},

		// The commitment (docs §8).
		{"wrong previous root", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) { com.PrevRoot = l2.EmptySubtree(soundDepth) }}},
		{"wrong new root", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) { com.NewRoot = com.PrevRoot }}},
		{"wrong trace root", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) {
			com.TraceRoot = l2.ListRoot([]fr.Element{com.NewRoot})
		}}},
		{"wrong withdrawal root", mutation{last: withdraw(alice, 5, 6)}, mutation{last: withdraw(alice, 5, 6), claim: func(com *l2.Commitment) {
			com.WithdrawalRoot = l2.ListRoot([]fr.Element{{}, {}, l2.WithdrawalLeaf([20]byte{0xaa}, 3), l2.WithdrawalLeaf([20]byte{9}, 5)})
		}}},
		{"wrong data hash", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) {
			data := l2.EncodeBatch(append(append([]l2.Tx{}, sc.prefix...), transfer(alice, dave, 1, 6)))
			com.DataHash, _ = l2.DataHash(data)
		}}},
		{"deposit skipped", mutation{last: okTransfer}, mutation{last: okTransfer, claim: func(com *l2.Commitment) {
			// The L1 queue's next entries are d0 (in the prefix) then d1; the batch claims both.
			com.DepositsAfter = l2.NextDepositChain(sc.dqAfter, l2.DepositHash(sc.eve.Public(), 1))
		}}},
		{"deposits reordered", mutation{last: deposit(empty, sc.eve, 7)}, mutation{last: deposit(empty, sc.eve, 7), claim: func(com *l2.Commitment) {
			d0, d1 := l2.DepositHash(sc.erin.Public(), 100), l2.DepositHash(sc.eve.Public(), 7)
			com.DepositsAfter = l2.NextDepositChain(l2.NextDepositChain(fr.Element{}, d1), d0)
		}}},
		{"deposit chain not advanced", mutation{last: deposit(empty, sc.eve, 7)}, mutation{last: deposit(empty, sc.eve, 7), claim: func(com *l2.Commitment) {
			com.DepositsAfter = sc.dqAfter
		}}},
		{"commitment of another batch number", mutation{last: okTransfer}, mutation{last: okTransfer, l1: func(com *l2.Commitment) { com.BatchNumber++ }}},
		{"commitment with another dq_before", mutation{last: okTransfer}, mutation{last: okTransfer, l1: func(com *l2.Commitment) { com.DepositsBefore = sc.dqAfter }}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc.t = t
			if err := isSolved(soundParams, sc.forge(tc.valid)); err != nil {
				t.Fatalf("valid twin not solved: %v", err)
			}
			if isSolved(soundParams, sc.forge(tc.invalid)) == nil {
				t.Fatal("forged witness solved")
			}
		})
	}
}

// fieldAmount replaces the amount k of alice's signed slot by p - k, with w0 recomputed over
// the field and re-signed by alice: a header no Tx can hold.
func fieldAmount(k int64) func(c *BatchCircuit, s *Slot) {
	return func(c *BatchCircuit, s *Slot) {
		p := fr.Modulus()
		amount := new(big.Int).Sub(p, big.NewInt(k))
		w0 := new(big.Int).Sub(s.Words[0].(*big.Int), new(big.Int).Lsh(big.NewInt(k), 64))
		w0.Add(w0, new(big.Int).Lsh(amount, 64)).Mod(w0, p)
		s.Amount = amount
		setWords(s, scalarBase, w0, s.Words[1].(*big.Int))
	}
}

// TestPublicInputTampered changes only the public input of a valid assignment.
func TestPublicInputTampered(t *testing.T) {
	sc := newScenario(t)
	c := sc.forge(mutation{last: sc.sign(alice, l2.Tx{Type: l2.TxTransfer, From: alice, To: dave, Amount: 1, Nonce: 6})})
	if err := isSolved(soundParams, c); err != nil {
		t.Fatal(err)
	}
	h := c.CommitmentHash.(*big.Int)
	c.CommitmentHash = new(big.Int).Add(h, big.NewInt(1))
	if isSolved(soundParams, c) == nil {
		t.Fatal("solved with commitment hash + 1")
	}
}
