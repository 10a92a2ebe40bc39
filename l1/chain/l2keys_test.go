package chain

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

func mldsaL2Key(seed byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x17, 1: seed})
}

func mldsaDeposit(id uint64, pub []byte, amount uint64) *Deposit {
	return &Deposit{RollupID: id, Amount: amount, MLDSAKey: pub}
}

func TestMLDSADeposit(t *testing.T) {
	h := newHarness(t, 2)
	seq, user := h.users[0], h.users[1]
	s := h.register(seq, testConfig(h, seq, 7, nil, 0))
	pub := mldsaL2Key(1).Public().Bytes()
	pk := l2.MLDSAPublicKey(pub)
	kh := pk.Y.Bytes()
	if _, err := h.c.L2Key(s.id, kh); !errors.Is(err, ErrNotFound) {
		t.Fatalf("L2Key before any deposit: %v, want ErrNotFound", err)
	}
	wrongHash := mldsaDeposit(s.id, pub, 1)
	otherHash := l2.MLDSAKeyHash(pub[1:])
	wrongHash.PKY = otherHash.Bytes()
	xNotZero := mldsaDeposit(s.id, pub, 1)
	xNotZero.PKX, xNotZero.PKY = [32]byte{31: 1}, kh
	noKey := &Deposit{RollupID: s.id, Amount: 1, PKY: kh}
	cases := []struct {
		name   string
		p      *Deposit
		detail string
	}{
		{"x = 0 without the ML-DSA key", noKey, "carries no ML-DSA key"},
		{"short key", mldsaDeposit(s.id, pub[:l2.MLDSAPubSize-1], 1), "1951 bytes"},
		{"long key", mldsaDeposit(s.id, append(bytes.Clone(pub), 0), 1), "1953 bytes"},
		{"y is not the key's hash", wrongHash, "(0, MLDSAKeyHash(key))"},
		{"x is not 0", xNotZero, "(0, MLDSAKeyHash(key))"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.block(h.tx(user, TxDeposit, tc.p))
			if err := r.Errs[0]; !errors.Is(err, ErrBadL2Key) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("got %v, want ErrBadL2Key naming %q", err, tc.detail)
			}
		})
	}
	if n := h.rollup(s.id).QueueLen; n != 0 {
		t.Fatalf("refused deposits queued %d entries", n)
	}
	if _, err := h.c.L2Key(s.id, kh); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused deposit registered the key: %v", err)
	}
	// The valid twins: the key alone (L1 fills (0, kh)), then with (0, kh) spelled out.
	spelled := mldsaDeposit(s.id, pub, 200)
	spelled.PKY = kh
	h.mustOK(h.tx(user, TxDeposit, mldsaDeposit(s.id, pub, 300)), h.tx(user, TxDeposit, spelled))
	for j, amount := range []uint64{300, 200} {
		d, err := h.c.Deposit(s.id, uint64(j))
		if err != nil || d.PKX != ([32]byte{}) || d.PKY != kh || d.Amount != amount {
			t.Fatalf("entry %d: %+v, %v", j, d, err)
		}
	}
	dq := l2.NextDepositChain(l2.NextDepositChain(zeroFr, l2.DepositHash(pk, 300)), l2.DepositHash(pk, 200))
	if r := h.rollup(s.id); r.QueueChain != dq.Bytes() || r.Escrow != 500 {
		t.Fatalf("rollup after ML-DSA deposits: %+v", r)
	}
	got, err := h.c.L2Key(s.id, kh)
	if err != nil || !bytes.Equal(got, pub) {
		t.Fatalf("L2Key: %d bytes, %v", len(got), err)
	}
	if _, err := h.c.L2Key(s.id+1, kh); !errors.Is(err, ErrNotFound) {
		t.Fatalf("L2Key of another rollup: %v", err)
	}
	// An EdDSA deposit still works and registers nothing.
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, l2Key(t, 1).Public(), 5)))
}

// mldsaSetup registers a rollup with an EdDSA account at index 1 and an ML-DSA account at
// index 2 (10,000 each), both from one validity batch.
func mldsaSetup(t *testing.T, h *harness, cfg RollupConfig) (*l2Side, *l2.PrivateKey, *pqkey.PrivateKey) {
	t.Helper()
	seq, user := h.users[0], h.users[1]
	s := h.register(seq, cfg)
	k, pq := l2Key(t, 1), mldsaL2Key(1)
	s.keys = l2.KeyMap{}
	s.keys.Add(pq.Public().Bytes())
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k.Public(), 10_000)),
		h.tx(user, TxDeposit, mldsaDeposit(s.id, pq.Public().Bytes(), 10_000)))
	p, _ := s.batch(t, h, ModeValidity, []l2.Tx{s.depositTx(t, h, 0, 1), s.depositTx(t, h, 1, 2)})
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	return s, k, pq
}

func mldsaTransfer(t *testing.T, k *pqkey.PrivateKey, chainID uint64, from, to uint32, nonce, amount uint64) l2.Tx {
	t.Helper()
	tx := l2.Tx{Type: l2.TxTransferMLDSA, From: from, To: to, Nonce: nonce, Amount: amount}
	if _, err := l2.SignMLDSA(k, chainID, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// withData is p with its data replaced by the frame of data.
func withData(t *testing.T, p *SubmitBatch, data []byte) *SubmitBatch {
	t.Helper()
	frame, err := CompressBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	q := *p
	q.Data = frame
	return &q
}

func TestMLDSABatch(t *testing.T) {
	h := newHarness(t, 2)
	seq := h.users[0]
	s, _, pq := mldsaSetup(t, h, testConfig(h, seq, 7, nil, 0))
	txs := []l2.Tx{mldsaTransfer(t, pq, 7, 2, 1, 0, 100), {Type: l2.TxNoop}}
	good := s.snapshot()
	good.keys = s.keys
	p, _ := good.batch(t, h, ModeOptimistic, txs)
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 2*l2.TxSize+l2.MLDSASigSize {
		t.Fatalf("batch data of %d bytes", len(data))
	}
	badDigest := bytes.Clone(data)
	badDigest[l2.TxSize+7] ^= 1 // a byte of the signature
	mldsaRec := data[:l2.TxSize+l2.MLDSASigSize]
	tooMany := bytes.Repeat(mldsaRec, l2.MaxBatchMLDSATxs+1)
	pv, _ := s.snapshot().batch(t, h, ModeValidity, txs)
	cases := []struct {
		name   string
		p      *SubmitBatch
		want   error
		detail string
	}{
		{"missing signature", withData(t, p, append(bytes.Clone(data[:l2.TxSize]), data[l2.TxSize+l2.MLDSASigSize:]...)), ErrBatchData, "record 0: truncated ML-DSA signature"},
		{"signature whose digest is not w2", withData(t, p, badDigest), ErrBatchData, "record 0 (transfer_mldsa): the signature's digest is not w2"},
		{"too many ML-DSA records", withData(t, p, tooMany), l2.ErrBatchTooLarge, "ML-DSA records"},
		{"ML-DSA in a validity batch", pv, ErrMLDSAInValidityBatch, "transaction 0 is a transfer_mldsa"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.block(h.tx(seq, TxSubmitBatch, tc.p))
			if err := r.Errs[0]; !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("got %v, want %v naming %q", err, tc.want, tc.detail)
			}
			if r := h.rollup(s.id); r.HeadNumber != 1 {
				t.Fatalf("head %d after a refused batch", r.HeadNumber)
			}
		})
	}
	// The valid twin: the optimistic batch, its data stored as posted (interleaved), its data
	// hash over the records only.
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.HeadNumber != 2 {
		t.Fatalf("head %d", r.HeadNumber)
	}
	frame, err := h.c.BatchData(s.id, 2)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := DecompressBatch(frame)
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("stored data differs: %v", err)
	}
	h.advance(int(s.cfg.ChallengeWindow))
	if r := h.rollup(s.id); r.FinalNumber != 2 {
		t.Fatalf("the ML-DSA batch did not finalize: %+v", r)
	}
	if MaxBatchDataSize != 4096*160+256*3309 || MaxTxSize < MaxBatchDataSize+MaxTraceSize {
		t.Fatalf("limits: data %d, tx %d", MaxBatchDataSize, MaxTxSize)
	}
}

func TestMLDSAExodus(t *testing.T) {
	h := newHarness(t, 3)
	seq, other := h.users[0], h.users[2]
	cfg := testConfig(h, seq, 7, nil, 0)
	s, k, pq := mldsaSetup(t, h, cfg)
	acct, _ := s.state.Account(2)
	wit, _ := s.state.Witness(2)
	var sibs [][32]byte
	for _, w := range wit {
		sibs = append(sibs, w.Bytes())
	}
	dest := common.Address{0xee}
	sig, err := SignExodusMLDSA(pq, 7, 2, acct.Balance, dest)
	if err != nil {
		t.Fatal(err)
	}
	pk := acct.PubKey
	ex := &ExodusWithdrawal{RollupID: s.id, Index: 2, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes(), Balance: acct.Balance,
		L2Nonce: acct.Nonce, Siblings: sibs, Recipient: dest, MLDSASig: sig}
	for !h.rollup(s.id).Frozen {
		h.mustOK()
	}
	otherDest, err := SignExodusMLDSA(pq, 7, 2, acct.Balance, common.Address{0xef})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := SignExodusMLDSA(mldsaL2Key(2), 7, 2, acct.Balance, dest)
	if err != nil {
		t.Fatal(err)
	}
	l2Tx, err := pq.Sign(pqkey.ContextL2Tx, 7, ExodusNonce, func() []byte { b := ExodusMLDSAPayload(7, 2, acct.Balance, dest); return b[:] }())
	if err != nil {
		t.Fatal(err)
	}
	edMsg := ExodusMessage(2, acct.Balance, dest)
	if err := l2.SignTx(k, 7, &edMsg); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		edit   func(e *ExodusWithdrawal)
		detail string
	}{
		{"signature for another recipient", func(e *ExodusWithdrawal) { e.MLDSASig = otherDest }, "does not verify"},
		{"another key's signature", func(e *ExodusWithdrawal) { e.MLDSASig = otherKey }, "does not verify"},
		{"signature under the L2 tx context", func(e *ExodusWithdrawal) { e.MLDSASig = l2Tx }, "does not verify"},
		{"no signature", func(e *ExodusWithdrawal) { e.MLDSASig = nil }, "ML-DSA signature of 0 bytes"},
		{"short signature", func(e *ExodusWithdrawal) { e.MLDSASig = sig[1:] }, "ML-DSA signature of 3308 bytes"},
		{"an EdDSA signature", func(e *ExodusWithdrawal) {
			e.MLDSASig, e.SigRX, e.SigRY, e.SigS = nil, edMsg.Sig.RX.Bytes(), edMsg.Sig.RY.Bytes(), edMsg.Sig.S.Bytes()
		}, "an EdDSA signature for an ML-DSA account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := *ex
			tc.edit(&bad)
			r := h.block(h.tx(other, TxExodusWithdrawal, &bad))
			if err := r.Errs[0]; !errors.Is(err, ErrBadL2Signature) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("got %v, want ErrBadL2Signature naming %q", err, tc.detail)
			}
		})
	}
	// An EdDSA account's exodus may not carry an ML-DSA signature.
	edAcct, _ := s.state.Account(1)
	edWit, _ := s.state.Witness(1)
	var edSibs [][32]byte
	for _, w := range edWit {
		edSibs = append(edSibs, w.Bytes())
	}
	edMsg = ExodusMessage(1, edAcct.Balance, dest)
	if err := l2.SignTx(k, 7, &edMsg); err != nil {
		t.Fatal(err)
	}
	edEx := &ExodusWithdrawal{RollupID: s.id, Index: 1, PKX: edAcct.PubKey.X.Bytes(), PKY: edAcct.PubKey.Y.Bytes(),
		Balance: edAcct.Balance, Siblings: edSibs, Recipient: dest, SigRX: edMsg.Sig.RX.Bytes(), SigRY: edMsg.Sig.RY.Bytes(),
		SigS: edMsg.Sig.S.Bytes(), MLDSASig: sig}
	h.mustFail(h.tx(other, TxExodusWithdrawal, edEx), ErrBadL2Signature)
	h.spent(s.id, 2, 1, false, false)
	// The valid twins.
	h.mustOK(h.tx(other, TxExodusWithdrawal, ex))
	edEx.MLDSASig = nil
	h.mustOK(h.tx(other, TxExodusWithdrawal, edEx))
	if got := h.balance(dest); got != acct.Balance+edAcct.Balance {
		t.Fatalf("exodus paid %d, want %d", got, acct.Balance+edAcct.Balance)
	}
	h.mustFail(h.tx(other, TxExodusWithdrawal, ex), ErrAlreadyExited)
}
