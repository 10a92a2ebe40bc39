package chain

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

const testChainID = 31337

// fakeVerifier is a fault-injection ProofVerifier: it accepts the proof "valid" for any input,
// fakeProof(in) for the input in only (a proof bound to its public input, as a real one is), and
// vkProof(vk) under the verifying key vk only; it records the inputs it was asked about.
type fakeVerifier struct{ inputs []fr.Element }

func (v *fakeVerifier) Verify(vkHash [32]byte, in fr.Element, proof []byte) error {
	v.inputs = append(v.inputs, in)
	if !bytes.Equal(proof, []byte("valid")) && !bytes.Equal(proof, fakeProof(in)) && !bytes.Equal(proof, vkProof(vkHash)) {
		return errors.New("fake verifier: proof is neither \"valid\" nor bound to the input")
	}
	return nil
}

// fakeProof is the proof fakeVerifier accepts for the public input in only.
func fakeProof(in fr.Element) []byte {
	b := in.Bytes()
	return append([]byte("proof of "), b[:]...)
}

// vkProof is the proof fakeVerifier accepts under the verifying key vk only.
func vkProof(vk [32]byte) []byte { return append([]byte("proof under "), vk[:]...) }

// faultInjectionJudge is a fault-injection FraudJudge: the proof bytes are its verdict
// ("fraud" proves fraud, "error" fails, anything else is not fraud).
type faultInjectionJudge struct{}

func (faultInjectionJudge) Judge(c *FraudCase) (bool, error) {
	switch string(c.Proof) {
	case "fraud":
		return true, nil
	case "error":
		return false, errors.New("judge: malformed proof")
	}
	return false, nil
}

func seededKey(t testing.TB, i byte) *pqkey.PrivateKey {
	t.Helper()
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0xa5, 1: i})
}

// harness is one chain in a memory store with funded users and a producing validator.
type harness struct {
	t         testing.TB
	db        *pebble.DB
	c         *Chain
	validator *pqkey.PrivateKey
	users     []*pqkey.PrivateKey
	nonces    map[common.Address]uint64
	verifier  *fakeVerifier
	real      ProofVerifier // the chain's verifier instead of verifier, when set (real proofs)
	judge     FraudJudge
	blocks    []*SealedBlock
	fees      Fees               // the genesis fees (zero unless a test sets them before open)
	vals      []GenesisValidator // the genesis validator set (validators_test.go), none by default
	staking   Staking
}

const userFunds = 1_000_000

func newHarness(t testing.TB, nUsers int) *harness {
	t.Helper()
	return newHarnessWithJudge(t, nUsers, faultInjectionJudge{})
}

// newHarnessWithJudge is newHarness with another fraud judge: fraud.Judge for end-to-end tests.
func newHarnessWithJudge(t testing.TB, nUsers int, judge FraudJudge) *harness {
	t.Helper()
	return newHarnessWith(t, nUsers, judge, nil)
}

// newHarnessWith is newHarness with a fraud judge and, if real is not nil, a real proof verifier.
func newHarnessWith(t testing.TB, nUsers int, judge FraudJudge, real ProofVerifier) *harness {
	t.Helper()
	h := &harness{t: t, validator: seededKey(t, 0), nonces: map[common.Address]uint64{}, verifier: &fakeVerifier{},
		real: real, judge: judge}
	for i := range nUsers {
		h.users = append(h.users, seededKey(t, byte(i+1)))
	}
	h.db = openMem(t)
	h.c = h.open(h.db)
	return h
}

func openMem(t testing.TB) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (h *harness) genesis() Genesis {
	g := Genesis{ChainID: testChainID, Validator: h.validator.Public().Bytes(), Timestamp: 1000, Fees: h.fees,
		Validators: h.vals, Staking: h.staking}
	for _, u := range h.users {
		g.Alloc = append(g.Alloc, Alloc{Address: u.Address(), Balance: userFunds})
	}
	return g
}

func (h *harness) open(db *pebble.DB) *Chain {
	h.t.Helper()
	var v ProofVerifier = h.verifier
	if h.real != nil {
		v = h.real
	}
	c, err := Open(db, Config{Genesis: h.genesis(), Verifier: v, Judge: h.judge})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// tx signs a transaction of k with its next nonce.
func (h *harness) tx(k *pqkey.PrivateKey, typ TxType, payload any) []byte {
	h.t.Helper()
	n := h.nonces[k.Address()]
	raw, err := SignTx(k, typ, testChainID, n, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	h.nonces[k.Address()] = n + 1
	return raw
}

// block produces, signs and commits the next block.
func (h *harness) block(txs ...[]byte) *Result {
	h.t.Helper()
	height, _, ts, _ := h.c.Head()
	p, err := h.c.Execute(ts+1, txs)
	if err != nil {
		h.t.Fatalf("block %d: %v", height+1, err)
	}
	sig, err := SignHeader(h.validator, &p.Header)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.Commit(p, sig, nil); err != nil {
		h.t.Fatal(err)
	}
	h.blocks = append(h.blocks, &SealedBlock{Header: p.Header, Txs: txs, Sig: sig})
	return &p.Result
}

// mustOK produces a block and fails unless every transaction applied.
func (h *harness) mustOK(txs ...[]byte) *Result {
	h.t.Helper()
	r := h.block(txs...)
	for i, err := range r.Errs {
		if err != nil {
			h.t.Fatalf("block %d tx %d: %v", r.Header.Height, i, err)
		}
	}
	return r
}

// mustFail produces a block with one transaction and checks it failed with want.
func (h *harness) mustFail(raw []byte, want error) {
	h.t.Helper()
	r := h.block(raw)
	if !errors.Is(r.Errs[0], want) {
		h.t.Fatalf("got error %v, want %v", r.Errs[0], want)
	}
}

func (h *harness) balance(a common.Address) uint64 {
	h.t.Helper()
	acct, err := h.c.Account(a)
	if err != nil {
		h.t.Fatal(err)
	}
	return acct.Balance
}

func (h *harness) rollup(id uint64) *Rollup {
	h.t.Helper()
	r, err := h.c.Rollup(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// spent checks the Exited query of an l2 account and the Refunded query of a deposit queue entry.
func (h *harness) spent(id uint64, account uint32, deposit uint64, exited, refunded bool) {
	h.t.Helper()
	e, err := h.c.Exited(id, account)
	if err != nil || e != exited {
		h.t.Fatalf("Exited(%d, %d) = %v, %v; want %v", id, account, e, err, exited)
	}
	r, err := h.c.Refunded(id, deposit)
	if err != nil || r != refunded {
		h.t.Fatalf("Refunded(%d, %d) = %v, %v; want %v", id, deposit, r, err, refunded)
	}
}

func (h *harness) advance(n int) {
	h.t.Helper()
	for range n {
		h.mustOK()
	}
}

// l2Side is a rollup's L2 as its sequencer sees it: the reference state and the queue position.
type l2Side struct {
	cfg      RollupConfig
	id       uint64
	state    *l2.State
	consumed uint64
	dq       fr.Element // dq[consumed]
	queue    []DepositEntry
	number   uint64
	// faulty makes batch execute as a sequencer that skips signature checks and posts failing
	// transactions (fraud tests).
	faulty bool
	keys   l2.KeyMap // the ML-DSA keys of the rollup's accounts (nil: none)
}

func testConfig(h *harness, seq *pqkey.PrivateKey, chainID uint64, guardians []*pqkey.PrivateKey, threshold uint64) RollupConfig {
	cfg := RollupConfig{L2ChainID: chainID, VKHash: [32]byte{1}, TreeDepth: 4, BatchSize: 16, SequencerBond: 1000,
		ChallengeWindow: 5, ForcedInclusionWindow: 10, ExodusTimeout: 50,
		Sequencers: []common.Address{seq.Address()}, GuardianThreshold: threshold}
	for _, g := range guardians {
		cfg.Guardians = append(cfg.Guardians, g.Public().Bytes())
	}
	return cfg
}

func (h *harness) register(k *pqkey.PrivateKey, cfg RollupConfig) *l2Side {
	h.t.Helper()
	h.mustOK(h.tx(k, TxRegisterRollup, &cfg))
	n, err := h.c.RollupCount()
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := l2.NewState(int(cfg.TreeDepth))
	if err != nil {
		h.t.Fatal(err)
	}
	return &l2Side{cfg: cfg, id: n, state: s}
}

// l2Key returns a deterministic L2 key.
func l2Key(t testing.TB, seed uint64) *l2.PrivateKey {
	t.Helper()
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7}))
	var b [32]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	k, err := l2.GenerateKey(bytes.NewReader(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func depositPayload(id uint64, pk l2.PublicKey, amount uint64) *Deposit {
	return &Deposit{RollupID: id, Amount: amount, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()}
}

// batch executes txs on the L2 side and returns the submission; the L2 side advances (call
// rewind to undo, as after a rejected submission).
func (s *l2Side) batch(t testing.TB, h *harness, mode uint8, txs []l2.Tx) (*SubmitBatch, l2.BatchResult) {
	t.Helper()
	prev := s.state.Root()
	before := s.dq
	res := s.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: s.cfg.L2ChainID, VerifySignatures: !s.faulty, Keys: s.keys})
	for k, st := range res.Statuses {
		if st != l2.StatusOK && !s.faulty {
			t.Fatalf("L2 tx %d: %s", k, st)
		}
	}
	after := s.dq
	for _, tx := range txs {
		if tx.Type.ConsumesDeposit() {
			d, err := h.c.Deposit(s.id, s.consumed)
			if err != nil {
				t.Fatal(err)
			}
			s.consumed++
			after, _ = fieldElement(d.Chain)
		}
	}
	s.dq = after
	data, err := l2.EncodeBatchData(txs) // interleaved: each type 5/6 record is followed by its signature
	if err != nil {
		t.Fatal(err)
	}
	dh := l2.TxsDataHash(txs) // over the records only
	frame, err := CompressBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	s.number++
	p := &SubmitBatch{RollupID: s.id, Mode: mode, Number: s.number, PrevRoot: prev.Bytes(), NewRoot: res.FinalRoot.Bytes(),
		DepositsBefore: before.Bytes(), DepositsAfter: after.Bytes(), WithdrawalRoot: res.WithdrawalRoot.Bytes(),
		DataHash: dh.Bytes(), TraceRoot: res.TraceRoot.Bytes(), TxCount: uint64(len(txs)), Data: frame}
	if mode == ModeValidity {
		p.Proof = []byte("valid")
	} else {
		for _, root := range res.PostRoots {
			p.Trace = append(p.Trace, root.Bytes())
		}
	}
	return p, res
}

// depositTx is the L2 deposit of queue entry j into account index.
func (s *l2Side) depositTx(t testing.TB, h *harness, j uint64, index uint32) l2.Tx {
	t.Helper()
	d, err := h.c.Deposit(s.id, j)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := fieldElement(d.PKX)
	y, _ := fieldElement(d.PKY)
	return l2.Tx{Type: l2.TxDeposit, From: index, Amount: d.Amount, PubKey: l2.PublicKey{X: x, Y: y}}
}

func withdrawTx(t testing.TB, k *l2.PrivateKey, chainID uint64, from uint32, nonce, amount uint64, to common.Address) l2.Tx {
	t.Helper()
	tx := l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: nonce, Address: to}
	if err := l2.SignTx(k, chainID, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// checkSupply audits Σ balances + Σ escrows + bonded + burned = genesis allocation, over the
// harness users and the extra addresses the test paid.
func (h *harness) checkSupply(extra ...common.Address) {
	h.t.Helper()
	var total uint64
	for _, u := range h.users {
		total += h.balance(u.Address())
	}
	for _, a := range extra {
		total += h.balance(a)
	}
	n, _ := h.c.RollupCount()
	for id := uint64(1); id <= n; id++ {
		total += h.rollup(id).Escrow
	}
	g, _ := h.c.Global()
	total += g.Bonded + g.Burned
	want := uint64(len(h.users)) * userFunds
	for _, v := range h.vals {
		want += v.Stake
	}
	if total != want {
		h.t.Fatalf("supply %d, genesis allocated %d", total, want)
	}
}
