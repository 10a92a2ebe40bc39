package vectors

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// seed fixes every random choice of the generator, so its output is the same bytes each run.
var seed = [32]byte{'p', 'q', 'b', 'r', 'i', 'd', 'g', 'e', ' ', 'v', 'e', 'c', 't', 'o', 'r', 's', ' ', 'v', '1'}

// ErrorName is the name in the vectors of a call-level error of docs §5.3 ("" for nil).
func ErrorName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, l2.ErrMalformed):
		return "malformed"
	case errors.Is(err, l2.ErrUnknownType):
		return "unknown_type"
	case errors.Is(err, l2.ErrNonCanonical):
		return "non_canonical"
	case errors.Is(err, l2.ErrBatchTooLarge):
		return "batch_too_large"
	}
	return "unexpected: " + err.Error()
}

// Generate computes the vectors file from the Go reference. The Poseidon2 known answers and
// the empty subtrees are computed with gnark-crypto's own permutation and hasher, so that the
// file anchors every implementation to gnark-crypto and not to this package's wrapper.
func Generate() (*File, error) {
	rng := rand.New(rand.NewChaCha8(seed))
	g := &generator{rng: rng}
	for range 3 {
		k, err := l2.GenerateKey(rand.NewChaCha8(g.seed()))
		if err != nil {
			return nil, err
		}
		g.keys = append(g.keys, k)
	}
	f := &File{Version: Version, GeneratedBy: "go run ./l2/cmd/genvectors"}
	var err error
	if f.Poseidon2, err = g.poseidon2(); err != nil {
		return nil, err
	}
	if f.HashMD, err = g.hashMD(); err != nil {
		return nil, err
	}
	if f.EmptySubtrees, err = emptySubtrees(); err != nil {
		return nil, err
	}
	f.Leaves = g.leaves()
	if f.Cases, err = g.cases(); err != nil {
		return nil, err
	}
	if f.Chunks, err = g.chunkings(); err != nil {
		return nil, err
	}
	if f.Interleaved, err = g.interleaved(); err != nil {
		return nil, err
	}
	return f, nil
}

type generator struct {
	rng  *rand.Rand
	keys []*l2.PrivateKey
}

func (g *generator) seed() (s [32]byte) {
	for i := range s {
		s[i] = byte(g.rng.Uint32())
	}
	return s
}

func (g *generator) element() fr.Element {
	var e fr.Element
	s := g.seed()
	e.SetBytes(s[:]) // reduced mod p: any canonical value
	return e
}

func minusOne() fr.Element {
	var e fr.Element
	e.SetOne()
	e.Neg(&e)
	return e
}

func (g *generator) poseidon2() ([]Compression, error) {
	var one, two fr.Element
	one.SetOne()
	two.SetUint64(2)
	pairs := [][2]fr.Element{{}, {{}, one}, {one, {}}, {one, two}, {minusOne(), minusOne()}}
	for range 4 {
		pairs = append(pairs, [2]fr.Element{g.element(), g.element()})
	}
	perm := poseidon2.NewPermutation(2, 6, 50)
	out := make([]Compression, len(pairs))
	for i, p := range pairs {
		l, r := p[0].Bytes(), p[1].Bytes()
		c, err := perm.Compress(l[:], r[:])
		if err != nil {
			return nil, err
		}
		var e fr.Element
		if err := e.SetBytesCanonical(c); err != nil {
			return nil, err
		}
		out[i] = Compression{Left: Element(p[0]), Right: Element(p[1]), Compress: Element(e)}
	}
	return out, nil
}

func (g *generator) hashMD() ([]MDHash, error) {
	lists := [][]fr.Element{{}, {{}}, {minusOne()}}
	for _, n := range []int{2, 3, 5, 11} {
		l := make([]fr.Element, n)
		for i := range l {
			l[i] = g.element()
		}
		lists = append(lists, l)
	}
	out := make([]MDHash, len(lists))
	for i, l := range lists {
		h := poseidon2.NewMerkleDamgardHasher()
		in := make([]Element, len(l))
		for j := range l {
			b := l[j].Bytes()
			if _, err := h.Write(b[:]); err != nil {
				return nil, err
			}
			in[j] = Element(l[j])
		}
		var e fr.Element
		if err := e.SetBytesCanonical(h.Sum(nil)); err != nil {
			return nil, err
		}
		out[i] = MDHash{Inputs: in, Hash: Element(e)}
	}
	return out, nil
}

func emptySubtrees() ([]Element, error) {
	perm := poseidon2.NewPermutation(2, 6, 50)
	z := make([]Element, l2.MaxTreeDepth+1)
	prev := make([]byte, fr.Bytes)
	for l := 1; l <= l2.MaxTreeDepth; l++ {
		next, err := perm.Compress(prev, prev)
		if err != nil {
			return nil, err
		}
		if err := (*fr.Element)(&z[l]).SetBytesCanonical(next); err != nil {
			return nil, err
		}
		prev = next
	}
	return z, nil
}

func (g *generator) leaves() []Leaf {
	pk := g.keys[0].Public()
	accounts := []l2.Account{
		{},
		{PubKey: pk, Balance: 7, Nonce: 1},
		{PubKey: pk, Balance: math.MaxUint64, Nonce: 0},
		{PubKey: pk, Balance: 0, Nonce: math.MaxUint64},
		{PubKey: g.keys[1].Public(), Balance: math.MaxUint64, Nonce: math.MaxUint64},
	}
	out := make([]Leaf, len(accounts))
	for i, a := range accounts {
		out[i] = Leaf{PKX: Element(a.PubKey.X), PKY: Element(a.PubKey.Y), Balance: U64(a.Balance), Nonce: U64(a.Nonce), Leaf: Element(a.Leaf())}
	}
	return out
}

// builder runs one case on a fresh state and records it.
type builder struct {
	c     Case
	state *l2.State
	opts  l2.ApplyOptions
	err   error
}

// pre starts the case from the given accounts instead of the empty state (the case's
// pre_state). It must come before the first batch.
func (b *builder) pre(accounts ...l2.IndexedAccount) {
	if b.err != nil {
		return
	}
	if len(b.c.Batches) != 0 {
		b.err = errors.New("pre_state after a batch")
		return
	}
	if b.state, b.err = l2.NewStateFromAccounts(b.c.Depth, accounts); b.err != nil {
		return
	}
	b.c.PreState = accountsOf(b.state)
	root := Element(b.state.Root())
	b.c.PreStateRoot = &root
}

func accountsOf(s *l2.State) []Account {
	out := []Account{}
	for _, a := range s.Accounts() {
		out = append(out, Account{
			Index: a.Index, PKX: Element(a.Account.PubKey.X), PKY: Element(a.Account.PubKey.Y),
			Balance: U64(a.Account.Balance), Nonce: U64(a.Account.Nonce),
		})
	}
	return out
}

func newCase(name string, depth int, chainID uint64, verify bool) *builder {
	s, err := l2.NewState(depth)
	return &builder{
		c:     Case{Name: name, Depth: depth, ChainID: U64(chainID), VerifySignatures: verify},
		state: s,
		opts:  l2.ApplyOptions{ChainID: chainID, VerifySignatures: verify},
		err:   err,
	}
}

// batch applies txs and checks that they get the statuses the case is meant to show.
func (b *builder) batch(want []l2.Status, txs ...l2.Tx) {
	got := b.raw(l2.EncodeBatch(txs), "")
	if b.err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
		b.err = fmt.Errorf("statuses %v, want %v", got, want)
	}
}

// rawData applies interleaved batch data (docs §5.4) that must decode, with its signatures,
// and returns the statuses; the batch's txs are its records and its data the interleaved form.
func (b *builder) rawData(data []byte) []l2.Status {
	if b.err != nil {
		return nil
	}
	records, _, err := l2.SplitBatchData(data)
	if err != nil {
		b.err = err
		return nil
	}
	return b.apply(Batch{Txs: records, Data: data}, data)
}

// raw applies batch data that must fail with the call-level error wantErr, or succeed if it
// is "", and returns the statuses.
func (b *builder) raw(data []byte, wantErr string) []l2.Status {
	if b.err != nil {
		return nil
	}
	batch := Batch{Txs: data}
	_, err := l2.DecodeBatch(data)
	batch.Error = ErrorName(err)
	if batch.Error != wantErr {
		b.err = fmt.Errorf("batch %d: error %q (%v), want %q", len(b.c.Batches), batch.Error, err, wantErr)
		return nil
	}
	if err != nil {
		b.c.Batches = append(b.c.Batches, batch)
		return nil
	}
	return b.apply(batch, data)
}

// apply applies decodable batch data (records, or the interleaved form) and records batch
// with its results.
func (b *builder) apply(batch Batch, data []byte) []l2.Status {
	txs, _, err := l2.DecodeBatchData(data)
	if err != nil {
		b.err = err
		return nil
	}
	dh, err := l2.DataHash(data)
	if err != nil {
		b.err = err
		return nil
	}
	r := b.state.ApplyBatch(txs, b.opts)
	for k := range txs {
		batch.Statuses = append(batch.Statuses, int(r.Statuses[k]))
		batch.PostRoots = append(batch.PostRoots, Element(r.PostRoots[k]))
		batch.WithdrawalLeaves = append(batch.WithdrawalLeaves, Element(r.WithdrawalLeaves[k]))
	}
	batch.FinalRoot, batch.TraceRoot = ptr(r.FinalRoot), ptr(r.TraceRoot)
	batch.WithdrawalRoot, batch.DataHash = ptr(r.WithdrawalRoot), ptr(dh)
	b.c.Batches = append(b.c.Batches, batch)
	return r.Statuses
}

func ptr(e fr.Element) *Element {
	v := Element(e)
	return &v
}

func (b *builder) done() (Case, error) {
	if b.err != nil {
		return Case{}, fmt.Errorf("case %q: %w", b.c.Name, b.err)
	}
	b.c.AccountsAfter = accountsOf(b.state)
	b.c.RootAfter = Element(b.state.Root())
	return b.c, nil
}

// Transaction makers. Transfers and withdraws are signed by k for the case's chain ID (k may
// be the wrong key on purpose); the signature only matters where signatures are verified.

func deposit(k *l2.PrivateKey, to uint32, amount uint64) l2.Tx {
	return l2.Tx{Type: l2.TxDeposit, From: to, Amount: amount, PubKey: k.Public()}
}

func (b *builder) transfer(k *l2.PrivateKey, from, to uint32, amount, nonce uint64) l2.Tx {
	return b.sign(k, l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: nonce})
}

func (b *builder) withdraw(k *l2.PrivateKey, from uint32, addr byte, amount, nonce uint64) l2.Tx {
	tx := l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: nonce}
	for i := range tx.Address {
		tx.Address[i] = addr + byte(i)
	}
	return b.sign(k, tx)
}

func (b *builder) sign(k *l2.PrivateKey, tx l2.Tx) l2.Tx {
	if err := l2.SignTx(k, b.opts.ChainID, &tx); err != nil && b.err == nil {
		b.err = err
	}
	return tx
}

var noop = l2.Tx{Type: l2.TxNoop}

// statuses is shorthand for the expected statuses of a batch.
func statuses(s ...l2.Status) []l2.Status { return s }

const (
	ok       = l2.StatusOK
	maxU64   = math.MaxUint64
	chainID  = 7
	depth    = 8
	outside  = 1 << depth // the first index outside a tree of the default case depth
	lastU32  = math.MaxUint32
	lastLeaf = 1<<depth - 1
)

func (g *generator) cases() ([]Case, error) {
	ka, kb, kc := g.keys[0], g.keys[1], g.keys[2]
	var cases []Case
	add := func(b *builder) error {
		c, err := b.done()
		if err == nil {
			cases = append(cases, c)
		}
		return err
	}
	// genesis creates accounts 3 (key a, 1000), 200 (key b, 500) and 255 (key c, 0).
	genesis := func(b *builder) {
		b.batch(statuses(ok, ok, ok), deposit(ka, 3, 1000), deposit(kb, 200, 500), deposit(kc, lastLeaf, 0))
	}
	var b *builder

	b = newCase("noop: always ok, root unchanged", depth, chainID, false)
	b.batch(statuses(ok), noop)
	b.batch(statuses(ok, ok, ok), noop, deposit(ka, 0, 1), noop)
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("deposit: create, credit, zero amount", depth, chainID, false)
	genesis(b)
	b.batch(statuses(ok, ok, ok), deposit(ka, 3, 24), deposit(kb, 0, 0), deposit(kb, 0, 9))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("deposit: index out of range", depth, chainID, false)
	b.batch(statuses(l2.StatusIndexOutOfRange, ok, l2.StatusIndexOutOfRange),
		deposit(ka, outside, 5), deposit(ka, lastLeaf, 5), deposit(ka, lastU32, 5))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("deposit: pubkey mismatch", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusPubkeyMismatch, ok, l2.StatusPubkeyMismatch),
		deposit(kb, 3, 1), deposit(ka, 3, 1), deposit(ka, lastLeaf, 0))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("deposit: balance overflow", depth, chainID, false)
	genesis(b)
	b.batch(statuses(ok, l2.StatusBalanceOverflow, l2.StatusBalanceOverflow, ok),
		deposit(ka, 3, maxU64-1000), deposit(ka, 3, 1), deposit(ka, 3, maxU64), deposit(ka, 3, 0))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: ok, nonces advance", depth, chainID, false)
	genesis(b)
	b.batch(statuses(ok, ok, ok, ok),
		b.transfer(ka, 3, 200, 100, 0), b.transfer(ka, 3, 200, 900, 1), b.transfer(kb, 200, lastLeaf, 1500, 0),
		b.transfer(kc, lastLeaf, 3, 7, 0))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: zero amount and self-transfer", depth, chainID, false)
	genesis(b)
	b.batch(statuses(ok, ok, ok, ok, ok),
		b.transfer(ka, 3, 200, 0, 0), b.transfer(ka, 3, 3, 500, 1), b.transfer(ka, 3, 3, 1000, 2),
		deposit(ka, 3, maxU64-1000), b.transfer(ka, 3, 3, maxU64, 3))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: index out of range", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusIndexOutOfRange, l2.StatusIndexOutOfRange, l2.StatusIndexOutOfRange, ok),
		b.transfer(ka, 3, outside, 1, 0), b.transfer(ka, outside, 3, 1, 0), b.transfer(ka, lastU32, lastU32, 1, 0),
		b.transfer(ka, 3, lastLeaf, 1, 0))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: sender not found", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusSenderNotFound, l2.StatusSenderNotFound),
		b.transfer(ka, 4, 3, 0, 0), b.transfer(ka, 0, 0, 0, 0))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: recipient not found", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusRecipientNotFound, l2.StatusRecipientNotFound, ok),
		b.transfer(ka, 3, 4, 1, 0), b.transfer(ka, 3, 0, 2000, 0), b.transfer(ka, 3, 200, 1, 0))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: bad nonce", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusBadNonce, ok, l2.StatusBadNonce, l2.StatusBadNonce, ok),
		b.transfer(ka, 3, 200, 1, 1), b.transfer(ka, 3, 200, 1, 0), b.transfer(ka, 3, 200, 1, 0),
		b.transfer(ka, 3, 4, 2000, maxU64), b.transfer(ka, 3, 200, 1, 1))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: insufficient balance", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusInsufficientBalance, l2.StatusInsufficientBalance, ok, l2.StatusInsufficientBalance),
		b.transfer(ka, 3, 200, 1001, 0), b.transfer(kc, lastLeaf, lastLeaf, 1, 0), b.transfer(ka, 3, 200, 1000, 0),
		b.transfer(ka, 3, 200, 1, 1))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: balance overflow", depth, chainID, false)
	genesis(b)
	b.batch(statuses(ok, l2.StatusBalanceOverflow, ok, ok),
		deposit(kb, 200, maxU64-500-999), b.transfer(ka, 3, 200, 1000, 0), b.transfer(ka, 3, 200, 999, 0),
		b.transfer(ka, 3, 3, 1, 1))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("withdraw: ok and failures, withdrawal root", depth, chainID, false)
	genesis(b)
	b.batch(statuses(ok, l2.StatusIndexOutOfRange, l2.StatusSenderNotFound, l2.StatusBadNonce,
		l2.StatusInsufficientBalance, ok, ok, ok, ok),
		b.withdraw(ka, 3, 0xa0, 400, 0), b.withdraw(ka, outside, 0xa0, 1, 0), b.withdraw(ka, 4, 0xa0, 1, 0),
		b.withdraw(ka, 3, 0xa0, 1, 0), b.withdraw(ka, 3, 0xa0, 601, 1), b.withdraw(ka, 3, 0xb0, 600, 1),
		b.withdraw(kc, lastLeaf, 0xc0, 0, 0), b.withdraw(kb, 200, 0xff, 500, 0), noop)
	b.batch(statuses(ok, l2.StatusInsufficientBalance), b.withdraw(ka, 3, 0x01, 0, 2), b.withdraw(kb, 200, 0x01, 1, 1))
	if err := add(b); err != nil {
		return nil, err
	}

	b = newCase("transfer: checks run in the listed order", depth, chainID, false)
	genesis(b)
	b.batch(statuses(l2.StatusIndexOutOfRange, l2.StatusSenderNotFound, l2.StatusBadNonce, l2.StatusRecipientNotFound,
		l2.StatusInsufficientBalance),
		b.transfer(ka, 4, outside, 1, 0),  // sender missing too
		b.transfer(ka, 4, 5, 1, 1),        // recipient missing, bad nonce too
		b.transfer(ka, 3, 5, 5000, 1),     // recipient missing, insufficient too
		b.transfer(ka, 3, 5, 5000, 0),     // insufficient too
		b.transfer(kc, lastLeaf, 3, 1, 0)) // the recipient would not overflow anyway
	if err := add(b); err != nil {
		return nil, err
	}

	// Both coordinates of the key are compared: keys differing in one only (not curve points:
	// the state does not validate keys, docs §4.1).
	b = newCase("deposit: pubkey mismatch in one coordinate", depth, chainID, false)
	genesis(b)
	xOnly, yOnly := deposit(ka, 3, 1), deposit(ka, 3, 1)
	xOnly.PubKey.Y = kb.Public().Y
	yOnly.PubKey.X = kb.Public().X
	b.batch(statuses(l2.StatusPubkeyMismatch, l2.StatusPubkeyMismatch, ok), xOnly, yOnly, deposit(ka, 3, 1))
	if err := add(b); err != nil {
		return nil, err
	}

	if err := g.preStateCases(&cases); err != nil {
		return nil, err
	}
	if err := g.signatureCase(&cases); err != nil {
		return nil, err
	}
	if err := g.structureCases(&cases); err != nil {
		return nil, err
	}
	if err := g.depthCases(&cases); err != nil {
		return nil, err
	}
	if err := g.mldsaCases(&cases); err != nil {
		return nil, err
	}
	if err := g.refundCases(&cases); err != nil {
		return nil, err
	}
	return cases, nil
}

// signatureCase covers bad_signature, and the signatures that are valid only by the cofactored
// rule: only the reference checks signatures (docs §6).
func (g *generator) signatureCase(cases *[]Case) error {
	ka, kb := g.keys[0], g.keys[1]
	b := newCase("signature: bad_signature with verify_signatures", depth, chainID, true)
	b.batch(statuses(ok, ok), deposit(ka, 3, 1000), deposit(kb, 200, 500))

	wrongKey := b.transfer(kb, 3, 200, 1, 0)
	otherChain := newCase("", depth, chainID+1, true).transfer(ka, 3, 200, 1, 0)
	tampered := b.transfer(ka, 3, 200, 1, 0)
	tampered.Amount = 2
	tamperedAddr := b.withdraw(ka, 3, 0x10, 1, 0)
	tamperedAddr.Address[0] ^= 1
	offCurve := b.transfer(ka, 3, 200, 1, 0)
	offCurve.Sig.RX.SetUint64(5)
	bigS := b.transfer(ka, 3, 200, 1, 0)
	order := twistededwards.GetEdwardsCurve().Order
	bigS.Sig.S.SetBigInt(new(big.Int).Add(&order, big.NewInt(1)))
	// S + L satisfies the equation (S·B depends on S mod L): only the range check S < L fails.
	twinS := b.transfer(ka, 3, 200, 1, 0)
	var l fr.Element
	l.SetBigInt(&order)
	twinS.Sig.S.Add(&twinS.Sig.S, &l)
	maxS := b.transfer(ka, 3, 200, 1, 0)
	maxS.Sig.S = minusOne()
	zeroSig := l2.Tx{Type: l2.TxTransfer, From: 3, To: 200, Amount: 1}
	staleNonce := b.transfer(kb, 3, 200, 1, 5) // wrong key and wrong nonce: the signature is checked first

	b.batch(statuses(l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusBadSignature,
		l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusBadSignature,
		l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusSenderNotFound, ok, ok, l2.StatusBadNonce),
		wrongKey, otherChain, tampered, tamperedAddr, offCurve, bigS, twinS, maxS, zeroSig, staleNonce,
		b.transfer(kb, 4, 200, 1, 0), // sender_not_found comes before the signature
		b.transfer(ka, 3, 200, 1, 0), b.withdraw(ka, 3, 0x10, 1, 1),
		b.transfer(ka, 3, 200, 1, 0)) // replay of an applied transfer: its nonce is spent
	c, err := b.done()
	if err != nil {
		return err
	}
	*cases = append(*cases, c)

	// R with a component of order 2, 4 or 8 (signed by l2test.Signer, whose scalar is known):
	// valid by the cofactored rule of docs §6, although gnark-crypto's Verify rejects it.
	var scalar big.Int
	seed := g.seed()
	signer := l2test.NewSigner(scalar.SetBytes(seed[:]))
	b = newCase("signature: R with a small-order component is valid (cofactored check)", depth, chainID, true)
	b.pre(l2.IndexedAccount{Index: 3, Account: l2.Account{PubKey: signer.Public(), Balance: 1000}},
		l2.IndexedAccount{Index: 200, Account: l2.Account{PubKey: kb.Public(), Balance: 500}})
	signed := func(tx l2.Tx, torsion int) l2.Tx {
		signer.Sign(chainID, &tx, l2test.TorsionPoint(torsion))
		return tx
	}
	transfer := func(amount, nonce uint64) l2.Tx {
		return l2.Tx{Type: l2.TxTransfer, From: 3, To: 200, Amount: amount, Nonce: nonce}
	}
	// R + T2 with the S of R: c = H(R, pk, msg) changes with R, so S no longer matches.
	sameS := signed(transfer(1, 4), 1)
	t2 := l2test.TorsionPoint(2)
	r := twistededwards.NewPointAffine(sameS.Sig.RX, sameS.Sig.RY)
	r.Add(&r, &t2)
	sameS.Sig.RX, sameS.Sig.RY = r.X, r.Y
	twin := signed(transfer(1, 4), 8)
	twin.Sig.S.Add(&twin.Sig.S, &l)
	b.batch(statuses(ok, ok, ok, ok, l2.StatusBadSignature, l2.StatusBadSignature, ok),
		signed(transfer(10, 0), 8),
		signed(l2.Tx{Type: l2.TxWithdraw, From: 3, Amount: 20, Nonce: 1, Address: [20]byte{0: 0xee, 19: 0x11}}, 4),
		signed(transfer(30, 2), 2),
		signed(transfer(40, 3), 1), // an ordinary signature, as gnark-crypto's Sign makes them
		sameS, twin, signed(transfer(1, 4), 8))
	if c, err = b.done(); err != nil {
		return err
	}
	*cases = append(*cases, c)
	return nil
}

// preStateCases start, through the optional pre_state of the vectors, from accounts that no
// sequence of transactions makes (a nonce of 2^64-1) or that take many (balances at 2^64-1).
func (g *generator) preStateCases(cases *[]Case) error {
	ka, kb, kc := g.keys[0], g.keys[1], g.keys[2]
	acc := func(k *l2.PrivateKey, index uint32, balance, nonce uint64) l2.IndexedAccount {
		return l2.IndexedAccount{Index: index, Account: l2.Account{PubKey: k.Public(), Balance: balance, Nonce: nonce}}
	}
	var bs []*builder

	// Account 3's nonce is exhausted; account 200 is one transaction away from it.
	exhausted := []l2.IndexedAccount{acc(ka, 3, 1000, maxU64), acc(kb, 200, 500, maxU64-1), acc(kc, lastLeaf, 0, 0)}
	b := newCase("transfer: nonce exhausted (pre_state)", depth, chainID, false)
	b.pre(exhausted...)
	b.batch(statuses(l2.StatusNonceExhausted, l2.StatusNonceExhausted, l2.StatusNonceExhausted, l2.StatusBadNonce,
		l2.StatusBadNonce, ok, l2.StatusNonceExhausted, ok),
		b.transfer(ka, 3, 200, 1, maxU64),
		b.transfer(ka, 3, 4, 1, maxU64),      // recipient missing too: nonce_exhausted comes first
		b.transfer(ka, 3, 200, 2000, maxU64), // insufficient too
		b.transfer(ka, 3, 200, 1, maxU64-1),  // just below the sender's nonce
		b.transfer(ka, 3, 200, 1, 0),
		b.transfer(kb, 200, 3, 1, maxU64-1), // the last increment: 2^64-2 -> 2^64-1
		b.transfer(kb, 200, 3, 1, maxU64),
		b.transfer(kc, lastLeaf, 3, 0, 0)) // an exhausted account can still receive
	bs = append(bs, b)

	b = newCase("withdraw: nonce exhausted (pre_state)", depth, chainID, false)
	b.pre(exhausted...)
	b.batch(statuses(l2.StatusNonceExhausted, l2.StatusNonceExhausted, l2.StatusBadNonce, ok, l2.StatusNonceExhausted),
		b.withdraw(ka, 3, 0xa0, 1, maxU64), b.withdraw(ka, 3, 0xa0, 2000, maxU64), b.withdraw(ka, 3, 0xa0, 1, maxU64-1),
		b.withdraw(kb, 200, 0xb0, 500, maxU64-1), b.withdraw(kb, 200, 0xb0, 0, maxU64))
	bs = append(bs, b)

	b = newCase("transfer: balance overflow at 2^64-1 (pre_state)", depth, chainID, false)
	b.pre(acc(ka, 3, 1000, 0), acc(kb, 200, maxU64, 7), acc(kc, lastLeaf, maxU64, 0))
	b.batch(statuses(l2.StatusBalanceOverflow, l2.StatusBalanceOverflow, ok, ok, ok, l2.StatusBalanceOverflow),
		b.transfer(ka, 3, 200, 1, 0), b.transfer(ka, 3, 200, 1000, 0),
		b.transfer(ka, 3, 200, 0, 0),                  // zero amount to a full account
		b.transfer(kc, lastLeaf, lastLeaf, maxU64, 0), // self-transfer of a full balance
		b.transfer(kb, 200, 3, maxU64-1000, 7),        // fills account 3 exactly
		b.transfer(kc, lastLeaf, 3, 1, 1))
	bs = append(bs, b)

	b = newCase("deposit: credit overflow (pre_state)", depth, chainID, false)
	b.pre(acc(ka, 3, maxU64, 5), acc(kb, 200, maxU64-10, 0))
	b.batch(statuses(l2.StatusBalanceOverflow, l2.StatusPubkeyMismatch, ok, ok, l2.StatusBalanceOverflow,
		l2.StatusBalanceOverflow),
		deposit(ka, 3, 1), deposit(kb, 3, 1), deposit(ka, 3, 0), deposit(kb, 200, 10), deposit(kb, 200, 1),
		deposit(kb, 200, maxU64))
	bs = append(bs, b)

	for _, b := range bs {
		c, err := b.done()
		if err != nil {
			return err
		}
		*cases = append(*cases, c)
	}
	return nil
}

// structureCases covers every call-level error of docs §5.3. Each bad batch has exactly one
// fault, except the last ones, which have several and pin the order of the checks; a valid
// batch before and after shows that the state is unchanged.
func (g *generator) structureCases(cases *[]Case) error {
	ka := g.keys[0]
	valid := func(b *builder) []byte {
		return l2.EncodeBatch([]l2.Tx{b.transfer(ka, 3, 3, 1, 0), noop})
	}
	p := fr.Modulus().FillBytes(make([]byte, fr.Bytes))
	type fault struct {
		name, err string
		data      func(b *builder) []byte
	}
	edit := func(tx l2.Tx, offset int, value ...byte) func(*builder) []byte {
		return func(b *builder) []byte {
			data := append(valid(b), l2.EncodeBatch([]l2.Tx{tx})...)
			copy(data[2*l2.TxSize+offset:], value)
			return data
		}
	}
	dep := deposit(ka, 5, 1)
	wd := l2.Tx{Type: l2.TxWithdraw, From: 3, Amount: 1}
	tr := l2.Tx{Type: l2.TxTransfer, From: 3, To: 3}
	faults := []fault{
		{"empty batch data", "malformed", func(b *builder) []byte { return []byte{} }},
		{"length 159", "malformed", func(b *builder) []byte { return make([]byte, 159) }},
		{"length 161", "malformed", func(b *builder) []byte { return make([]byte, 161) }},
		{"length 2*160+1", "malformed", func(b *builder) []byte { return append(valid(b), 0) }},
		{"4097 records", "batch_too_large", func(b *builder) []byte { return make([]byte, (l2.MaxBatchTxs+1)*l2.TxSize) }},
		{"reserved byte 0 of w0", "malformed", edit(dep, 0, 0x01)},
		{"reserved byte 6 of w0", "malformed", edit(tr, 6, 0x80)},
		{"unknown type 7", "unknown_type", edit(dep, 7, 7)},
		{"unknown type 255", "unknown_type", edit(noop, 7, 255)},
		{"deposit with to", "malformed", edit(dep, 15, 1)},
		{"deposit with nonce", "malformed", edit(dep, 31, 1)},
		{"deposit with w1", "malformed", edit(dep, 63, 1)},
		{"deposit with w4", "malformed", edit(dep, 159, 1)},
		{"transfer with w1", "malformed", edit(tr, 63, 1)},
		{"withdraw with to", "malformed", edit(wd, 12, 1)},
		{"withdraw address = 2^160", "malformed", edit(wd, 32+11, 1)},
		{"withdraw address with a high byte", "malformed", edit(wd, 32, 0x2f, 0xff)},
		{"noop with amount", "malformed", edit(noop, 23, 1)},
		{"noop with from", "malformed", edit(noop, 8, 1)},
		{"noop with w2", "malformed", edit(noop, 64, 1)},
		{"noop with w4", "malformed", edit(noop, 159, 1)},
		{"w0 = p", "non_canonical", edit(noop, 0, p...)},
		{"w1 = p", "non_canonical", edit(wd, 32, p...)},
		{"w2 = p", "non_canonical", edit(dep, 64, p...)},
		{"w3 = 2^256 - 1", "non_canonical", edit(tr, 96, ones()...)},
		{"w4 = p", "non_canonical", edit(tr, 128, p...)},
		{"noop with to", "malformed", edit(noop, 15, 1)},
		{"noop with nonce", "malformed", edit(noop, 31, 1)},
		{"noop with w1", "malformed", edit(noop, 63, 1)},
		{"noop with w3", "malformed", edit(noop, 127, 1)},
		{"deposit with a w1 above 2^160", "malformed", edit(dep, 32, 1)},
		// Several faults: the order of docs §5.3 picks the error.
		{"4097 records, the first of unknown type (count before records)", "batch_too_large", func(b *builder) []byte {
			data := make([]byte, (l2.MaxBatchTxs+1)*l2.TxSize)
			data[7] = 7
			return data
		}},
		{"unknown type and w4 = p (words before type)", "non_canonical", edits(edit(dep, 7, 7), 128, p...)},
		{"unknown type and a reserved byte (type before layout)", "unknown_type", edits(edit(tr, 7, 9), 0, 0x01)},
		{"malformed record before a non-canonical one (records in order)", "malformed", func(b *builder) []byte {
			data := edit(noop, 31, 1)(b)
			bad := l2.EncodeBatch([]l2.Tx{noop})
			copy(bad[128:], p)
			return append(data, bad...)
		}},
	}
	for _, f := range faults {
		b := newCase("structure: "+f.name+" -> "+f.err, depth, chainID, false)
		b.batch(statuses(ok), deposit(ka, 3, 10))
		b.raw(f.data(b), f.err)
		b.raw(valid(b), "")
		c, err := b.done()
		if err != nil {
			return err
		}
		*cases = append(*cases, c)
	}
	return nil
}

// edits applies a further edit to the last record of the data f makes.
func edits(f func(*builder) []byte, offset int, value ...byte) func(*builder) []byte {
	return func(b *builder) []byte {
		data := f(b)
		copy(data[len(data)-l2.TxSize+offset:], value)
		return data
	}
}

func ones() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// depthCases covers the smallest, default and largest tree depths, several batches, and a
// random mix of every status but bad_signature and nonce_exhausted from l2test.
func (g *generator) depthCases(cases *[]Case) error {
	ka, kb, kc := g.keys[0], g.keys[1], g.keys[2]
	var bs []*builder

	b := newCase("depth 2: full tree", 2, chainID, false)
	b.batch(statuses(ok, ok, ok, ok, l2.StatusIndexOutOfRange),
		deposit(ka, 0, 10), deposit(kb, 1, 20), deposit(kc, 2, 30), deposit(ka, 3, 40), deposit(ka, 4, 50))
	b.batch(statuses(ok, ok, l2.StatusIndexOutOfRange, ok),
		b.transfer(ka, 0, 3, 10, 0), b.transfer(ka, 3, 1, 50, 0), b.transfer(kb, 1, 4, 1, 0), b.withdraw(kb, 1, 0x42, 70, 0))
	bs = append(bs, b)

	b = newCase("depth 24: several batches", l2.DefaultTreeDepth, 1, false)
	b.batch(statuses(ok, ok, ok, ok), deposit(ka, 0, 1_000_000), deposit(kb, 1<<23, 2_000_000),
		deposit(kc, 1<<24-1, 3_000_000), deposit(ka, 12345, 4))
	b.batch(statuses(ok, ok, l2.StatusIndexOutOfRange, ok, ok),
		b.transfer(ka, 0, 1<<24-1, 500_000, 0), b.transfer(kc, 1<<24-1, 12345, 3_500_000, 0),
		b.transfer(kb, 1<<23, 1<<24, 1, 0), b.withdraw(kb, 1<<23, 0x77, 2_000_000, 0), deposit(kb, 1<<23, 1))
	b.batch(statuses(ok, l2.StatusBadNonce, ok), b.withdraw(ka, 12345, 0x33, 3_500_004, 0),
		b.transfer(ka, 0, 12345, 1, 0), b.transfer(ka, 0, 12345, 1, 1))
	bs = append(bs, b)

	b = newCase("depth 32: edge indices", l2.MaxTreeDepth, chainID, false)
	b.batch(statuses(ok, ok, ok), deposit(ka, lastU32, 100), deposit(kb, 0, 100), deposit(kc, 1<<31, 100))
	b.batch(statuses(ok, ok, ok), b.transfer(ka, lastU32, 0, 60, 0), b.transfer(kb, 0, 1<<31, 160, 0),
		b.withdraw(kc, 1<<31, 0x99, 260, 0))
	bs = append(bs, b)

	for _, b := range bs {
		c, err := b.done()
		if err != nil {
			return err
		}
		*cases = append(*cases, c)
	}

	const randomDepth = 5
	r := l2test.NewRandomBatches(0x5eed, randomDepth)
	b = newCase("random: mixed statuses", randomDepth, chainID, false)
	for range 4 {
		b.raw(r.Next(64), "")
	}
	c, err := b.done()
	if err != nil {
		return err
	}
	*cases = append(*cases, c)
	return nil
}
