package l1client_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
	"github.com/pqbridge/pqbridge/l2"
)

// certifyingValidator is a FAULT-INJECTING fake validator: a real quicrpc server signing with
// key that answers l1_proveState with a real node's proofs (a one-node chain, whose replies
// carry no certificate) plus a certificate of the reply's (height, app hash) by signers of set,
// real ML-DSA-65 votes; tamper, if set, changes the reply before it is signed.
type certifyingValidator struct {
	n       *node.Node
	key     *pqkey.PrivateKey
	set     *qc.ValidatorSet
	signers []*pqkey.PrivateKey
	tamper  func(*stateproof.Reply)

	mu    sync.Mutex
	certs map[common.Hash][]byte // by app hash: signed once, as a node stores its certificates
}

// certificate returns the encoded certificate of (height, appHash).
func (v *certifyingValidator) certificate(height uint64, appHash common.Hash) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if b, ok := v.certs[appHash]; ok {
		return b, nil
	}
	cert, err := certifyVotes(qc.Header{ChainID: chainID, Height: height, AppHash: appHash, ValSetHash: v.set.Hash()}, v.signers...)
	if err != nil {
		return nil, err
	}
	b, err := cert.Encode()
	if err != nil {
		return nil, err
	}
	if v.certs == nil {
		v.certs = map[common.Hash][]byte{}
	}
	v.certs[appHash] = b
	return b, nil
}

func (v *certifyingValidator) start(t testing.TB) string {
	t.Helper()
	srv, err := quicrpc.NewServer(quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: v.key, ChainID: chainID})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(node.MethodProveState, func(_ context.Context, req *quicrpc.Request) ([]byte, error) {
		q, err := stateproof.DecodeRequest(req.Payload)
		if err != nil {
			return nil, err
		}
		r, err := v.n.ProveState(q)
		if err != nil {
			return nil, err
		}
		if r.Cert, err = v.certificate(r.Height, r.AppHash); err != nil {
			return nil, err
		}
		if v.tamper != nil {
			v.tamper(r)
		}
		return rlp.EncodeToBytes(r)
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv.Addr().String()
}

// TestVerifiedReads: the proven reads return what the node holds, after checking the
// certificate against the pinned set and every proof against its app hash; a tampered value, a
// certificate of two thirds of the stake or less, a reply without a certificate and a client
// pinning one key are each refused by name.
func TestVerifiedReads(t *testing.T) {
	n, nodeAddr := startNode(t, t.TempDir())
	ctx := ctxT(t)
	plain := dial(t, nodeAddr)
	cfg := chain.RollupConfig{L2ChainID: 77, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10,
		ExodusTimeout: 100, Sequencers: []common.Address{alice.Address()}}
	sk, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	pk := sk.Public()
	for i, tx := range []struct {
		typ     chain.TxType
		payload any
	}{
		{chain.TxRegisterRollup, &cfg},
		{chain.TxDeposit, &chain.Deposit{RollupID: 1, Amount: 40, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()}},
	} {
		raw, err := chain.SignTx(alice, tx.typ, chainID, uint64(i), tx.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plain.SubmitTx(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := n.ProduceBlock(ctx); err != nil || len(r.Receipts) != 2 || !r.Receipts[0].OK || !r.Receipts[1].OK {
		t.Fatalf("block: %+v %v", r, err)
	}

	members, set := testSet(t)
	quorum := members[:3]
	dialSet := func(v *certifyingValidator) *l1client.Client {
		t.Helper()
		c, err := l1client.Dial(ctx, l1client.Config{Addr: v.start(t), ChainID: chainID, Validators: set, Key: key(9), StallTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("honest", func(t *testing.T) {
		vr := dialSet(&certifyingValidator{n: n, key: members[0], set: set, signers: quorum}).Verified()
		acct, err := vr.Account(ctx, alice.Address())
		want, werr := plain.Account(ctx, alice.Address())
		if err != nil || werr != nil || acct != want || acct.Nonce != 2 {
			t.Fatalf("account %+v %v, the node says %+v %v", acct, err, want, werr)
		}
		if none, err := vr.Account(ctx, common.HexToAddress("0x1234")); err != nil || none != (chain.Account{}) {
			t.Fatalf("unknown account: %+v %v, want the zero account", none, err)
		}
		r, err := vr.Rollup(ctx, 1)
		if err != nil || r.ID != 1 || r.Config.L2ChainID != 77 {
			t.Fatalf("rollup %+v %v", r, err)
		}
		d, err := vr.Deposit(ctx, 1, 0)
		if err != nil || d.Amount != 40 || d.Depositor != alice.Address() {
			t.Fatalf("deposit %+v %v", d, err)
		}
		if exited, err := vr.Exited(ctx, 1, 3); err != nil || exited {
			t.Fatalf("exited %v %v", exited, err)
		}
		for name, err := range map[string]error{
			"rollup 2":       func() error { _, err := vr.Rollup(ctx, 2); return err }(),
			"batch 1":        func() error { _, err := vr.Batch(ctx, 1, 1); return err }(),
			"claim of batch": func() error { _, err := vr.Claimed(ctx, 1, 1, 0); return err }(),
			"exit of rollup": func() error { _, err := vr.Exited(ctx, 2, 0); return err }(),
		} {
			if !errors.Is(err, chain.ErrNotFound) {
				t.Errorf("%s: %v, want chain.ErrNotFound (proven absent)", name, err)
			}
		}
	})

	for _, tc := range []struct {
		name string
		v    *certifyingValidator
		want []error
	}{
		{"tampered value", &certifyingValidator{n: n, key: members[0], set: set, signers: quorum,
			tamper: func(r *stateproof.Reply) { r.Entries[0].Value = append(r.Entries[0].Value, 0) }},
			[]error{l1client.ErrProof, stateproof.ErrMismatch}},
		{"two of four sign", &certifyingValidator{n: n, key: members[0], set: set, signers: members[:2]},
			[]error{l1client.ErrCertificate, qc.ErrNoQuorum}},
		{"another app hash certified", &certifyingValidator{n: n, key: members[0], set: set, signers: quorum,
			tamper: func(r *stateproof.Reply) { r.AppHash[0] ^= 1 }},
			[]error{l1client.ErrCertificate, qc.ErrHeaderMismatch}},
		{"no certificate", &certifyingValidator{n: n, key: members[0], set: set, signers: quorum,
			tamper: func(r *stateproof.Reply) { r.Cert = nil }},
			[]error{l1client.ErrCertificate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vr := dialSet(tc.v).Verified()
			_, err := vr.Account(ctx, alice.Address())
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("account: %v, want %v", err, w)
				}
			}
		})
	}

	if _, err := plain.Verified().Account(ctx, alice.Address()); !errors.Is(err, l1client.ErrNoValidatorSet) {
		t.Fatalf("one pinned key: %v, want ErrNoValidatorSet", err)
	}
}
