package challenger_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// certifyingValidator is a FAULT-INJECTING fake validator of a set: a real quicrpc server
// signing with key that answers l1_proveState with the in-process node's real proofs (a one-node
// chain, whose replies carry no certificate) plus a certificate of the reply's (height, app
// hash) by signers, real ML-DSA-65 votes; tamper, when it returns true, has changed the reply
// before it is sent.
type certifyingValidator struct {
	n       *node.Node
	key     *pqkey.PrivateKey
	set     *qc.ValidatorSet
	signers []*pqkey.PrivateKey
	tamper  *atomic.Pointer[func(*stateproof.Reply)]

	mu    sync.Mutex
	certs map[certAt][]byte // signed once, as a validator keeps its certificates
}

// certAt is a certified header's (height, app hash): an empty block keeps the app hash.
type certAt struct {
	height  uint64
	appHash common.Hash
}

func (v *certifyingValidator) certificate(height uint64, appHash common.Hash) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if b, ok := v.certs[certAt{height, appHash}]; ok {
		return b, nil
	}
	h := qc.Header{ChainID: l1ChainID, Height: height, AppHash: appHash, ValSetHash: v.set.Hash()}
	cert := &qc.Certificate{Header: h}
	for _, k := range v.signers {
		sig, err := qc.Sign(k, &h)
		if err != nil {
			return nil, err
		}
		cert.Votes = append(cert.Votes, qc.Vote{Signer: k.Address(), Sig: sig})
	}
	slices.SortFunc(cert.Votes, func(a, b qc.Vote) int { return bytes.Compare(a.Signer[:], b.Signer[:]) })
	b, err := cert.Encode()
	if err != nil {
		return nil, err
	}
	v.certs[certAt{height, appHash}] = b
	return b, nil
}

func (v *certifyingValidator) start(t *testing.T) string {
	t.Helper()
	v.certs = map[certAt][]byte{}
	srv, err := quicrpc.NewServer(quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: v.key, ChainID: l1ChainID})
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
		if f := v.tamper.Load(); f != nil {
			(*f)(r)
		}
		return rlp.EncodeToBytes(r)
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv.Addr().String()
}

// withholdingSource is a FAULT-INJECTING validator's plain replies over a real Source: its event
// stream omits the BatchSubmitted event of batch hideNumber at height hideHeight, and its plain
// BatchData lies (the frame of batch 1), counting the calls.
type withholdingSource struct {
	challenger.Source
	hideNumber, hideHeight atomic.Uint64
	plainData              atomic.Int32
}

func (s *withholdingSource) BatchData(ctx context.Context, rollupID, _ uint64) ([]byte, error) {
	s.plainData.Add(1)
	return s.Source.BatchData(ctx, rollupID, 1)
}

func (s *withholdingSource) Events(ctx context.Context, fromHeight uint64) (challenger.Events, error) {
	evs, err := s.Source.Events(ctx, fromHeight)
	if err != nil {
		return nil, err
	}
	return &withheldEvents{Events: evs, s: s}, nil
}

type withheldEvents struct {
	challenger.Events
	s *withholdingSource
}

func (e *withheldEvents) Next() (l1api.Event, error) {
	for {
		ev, err := e.Events.Next()
		if err != nil || ev.Kind != l1api.EventBatchSubmitted || ev.Number != e.s.hideNumber.Load() ||
			ev.Height != e.s.hideHeight.Load() {
			return ev, err
		}
	}
}

// missingLog is a slog handler that records the endpoint attribute of each "batch missing from
// the event stream" warning.
type missingLog struct {
	mu        sync.Mutex
	endpoints []string
}

func (h *missingLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *missingLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level != slog.LevelWarn || r.Message != "batch missing from the event stream" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "endpoint" {
			h.mu.Lock()
			h.endpoints = append(h.endpoints, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}
func (h *missingLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *missingLog) WithGroup(string) slog.Handler      { return h }

// TestProvenReadsCatchWithheldFraud (issue 15): a challenger pinning a validator set of four
// reads batches through a FAULT-INJECTING validator whose event stream withholds a fraudulent
// batch and whose plain batch data lies. While the validators' proof of the batch data is
// tampered with, the challenger refuses it (l1client.ErrProof) and sends nothing; then it finds
// the batch through the proven rollup head, logs it as missing, leaves that endpoint for the
// next, reads the true data and trace through state proofs, and L1 upholds its challenge within
// the window. The plain BatchData is never used.
func TestProvenReadsCatchWithheldFraud(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := fundedWorld(t)
	members := []*pqkey.PrivateKey{l1Key(20), l1Key(21), l1Key(22), l1Key(23)}
	var vals []qc.Validator
	for _, k := range members {
		vals = append(vals, qc.Validator{Key: k.Public(), Power: 10})
	}
	set, err := qc.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	tamper := new(atomic.Pointer[func(*stateproof.Reply)])
	var addrs []string
	for _, m := range members[:2] {
		v := &certifyingValidator{n: w.node, key: m, set: set, signers: members[:3], tamper: tamper}
		addrs = append(addrs, v.start(t))
	}
	cl, err := l1client.Dial(ctx, l1client.Config{Addrs: addrs, ChainID: l1ChainID, Validators: set, Key: l1Key(30),
		StallTimeout: -1, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	src := &withholdingSource{Source: nodesource.New(w.node)}
	logs := &missingLog{}
	ch, err := challenger.New(ctx, challenger.Config{FS: vfs.NewMem(), Source: challenger.ProvenSource(src, cl),
		Key: l1Key(3), L1ChainID: l1ChainID, RollupID: rollupID, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Stop() })
	step := func() {
		t.Helper()
		if err := ch.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if st := ch.Status(); st.Agreed != 1 || st.Withheld != 0 {
		t.Fatalf("before the fraud: %+v", st)
	}

	honest := w.honestTxs()
	bad := fraudKinds[0].lie(w, honest) // wrong-balance
	w.post(bad)
	r := w.blockOK()
	src.hideNumber.Store(bad.c.BatchNumber)
	src.hideHeight.Store(r.Header.Height)

	// The proven reads return what the node stores; a batch beyond the head is proven absent.
	vr := cl.Verified().AtLeast(r.Header.Height)
	pd, perr := w.node.BatchData(rollupID, bad.c.BatchNumber)
	vd, err := vr.BatchData(ctx, rollupID, bad.c.BatchNumber)
	if err != nil || perr != nil || !bytes.Equal(vd, pd) || len(vd) == 0 {
		t.Fatalf("proven batch data: %d bytes, %v; the node's %d bytes, %v", len(vd), err, len(pd), perr)
	}
	pt, perr := w.node.BatchTrace(rollupID, bad.c.BatchNumber)
	vt, err := vr.BatchTrace(ctx, rollupID, bad.c.BatchNumber)
	if err != nil || perr != nil || !slices.Equal(vt, pt) || len(vt) != len(honest) {
		t.Fatalf("proven trace: %d roots, %v; the node's %d, %v", len(vt), err, len(pt), perr)
	}
	if _, err := vr.BatchData(ctx, rollupID, bad.c.BatchNumber+1); !errors.Is(err, l1api.ErrNotFound) {
		t.Fatalf("batch data beyond the head: %v, want proven absent", err)
	}

	dataKey := stateproof.BatchDataKey(rollupID, bad.c.BatchNumber)
	lie := func(r *stateproof.Reply) {
		for i := range r.Entries {
			if bytes.Equal(r.Entries[i].Key, dataKey) && r.Entries[i].Present {
				r.Entries[i].Value = append([]byte(nil), r.Entries[i].Value...)
				r.Entries[i].Value[len(r.Entries[i].Value)-1] ^= 1
			}
		}
	}
	tamper.Store(&lie)
	first := cl.Endpoint()
	if err := ch.Step(ctx); !errors.Is(err, l1client.ErrProof) {
		t.Fatalf("tampered batch data proof: err %v, want l1client.ErrProof", err)
	}
	if st := ch.Status(); st.Challenges != 0 || st.Challenged != 0 || st.Agreed != 1 {
		t.Fatalf("acted on a refused proof: %+v", st)
	}
	tamper.Store(nil)

	w.challengeRound("withheld wrong-balance", bad, honest, func() *challenger.Challenger { return ch }, 3, step)
	st := ch.Status()
	if st.Withheld < 1 || st.Upheld != 1 || st.Challenges != 1 {
		t.Fatalf("after the round: %+v", st)
	}
	if n := src.plainData.Load(); n != 0 {
		t.Fatalf("the plain (lying) BatchData was read %d times", n)
	}
	logs.mu.Lock()
	warned := slices.Clone(logs.endpoints)
	logs.mu.Unlock()
	if len(warned) == 0 || warned[0] != first {
		t.Fatalf("missing-batch warnings name endpoints %q, want the withholding %s first", warned, first)
	}
	if cl.Reconnects() < 1 || cl.Endpoint() == first {
		t.Fatalf("client still on %s (reconnects %d): the withholding endpoint was not left", cl.Endpoint(), cl.Reconnects())
	}
}
