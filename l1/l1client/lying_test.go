package l1client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// lyingValidator is a FAULT-INJECTING fake validator: a real quicrpc server signing its
// replies with key (a member of the set or not), serving a head of height 5, a block of
// certHeight whose header claims root, and cert as that height's certificate (any other
// height: not found).
type lyingValidator struct {
	key        *pqkey.PrivateKey
	certHeight uint64
	root       common.Hash
	cert       *qc.Certificate
}

func (v *lyingValidator) start(t *testing.T) string {
	t.Helper()
	srv, err := quicrpc.NewServer(quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: v.key, ChainID: chainID})
	if err != nil {
		t.Fatal(err)
	}
	notFound := func(h uint64) error {
		return fmt.Errorf("%s: %w: height %d", node.APIErrorCode(chain.ErrNotFound), chain.ErrNotFound, h)
	}
	height := func(req *quicrpc.Request) (uint64, error) {
		var h uint64
		return h, rlp.DecodeBytes(req.Payload, &h)
	}
	srv.Handle(node.MethodStatus, func(context.Context, *quicrpc.Request) ([]byte, error) {
		return rlp.EncodeToBytes(&node.StatusReply{ChainID: chainID, Height: v.certHeight + 2})
	})
	srv.Handle(node.MethodBlock, func(_ context.Context, req *quicrpc.Request) ([]byte, error) {
		h, err := height(req)
		if err != nil || h != v.certHeight {
			return nil, notFound(h)
		}
		return rlp.EncodeToBytes(&chain.SealedBlock{Header: chain.Header{ChainID: chainID, Height: h, StateRoot: v.root}})
	})
	srv.Handle(node.MethodCertificate, func(_ context.Context, req *quicrpc.Request) ([]byte, error) {
		h, err := height(req)
		if err != nil || h != v.certHeight {
			return nil, notFound(h)
		}
		b, err := v.cert.Encode()
		if err != nil {
			return nil, err
		}
		return rlp.EncodeToBytes(b)
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv.Addr().String()
}

// certify builds a certificate of h signed by keys (real ML-DSA-65 votes), in signer order.
func certify(t testing.TB, h qc.Header, keys ...*pqkey.PrivateKey) *qc.Certificate {
	t.Helper()
	c, err := certifyVotes(h, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certifyVotes(h qc.Header, keys ...*pqkey.PrivateKey) (*qc.Certificate, error) {
	c := &qc.Certificate{Header: h}
	for _, k := range keys {
		sig, err := qc.Sign(k, &h)
		if err != nil {
			return nil, err
		}
		c.Votes = append(c.Votes, qc.Vote{Signer: k.Address(), Sig: sig})
	}
	slices.SortFunc(c.Votes, func(a, b qc.Vote) int { return bytes.Compare(a.Signer[:], b.Signer[:]) })
	return c, nil
}

// testSet is a set of four validators of equal stake (10 each): three sign a quorum.
func testSet(t testing.TB) ([]*pqkey.PrivateKey, *qc.ValidatorSet) {
	t.Helper()
	keys := []*pqkey.PrivateKey{key(20), key(21), key(22), key(23)}
	var vals []qc.Validator
	for _, k := range keys {
		vals = append(vals, qc.Validator{Key: k.Public(), Power: 10})
	}
	set, err := qc.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return keys, set
}

// TestClientRefusesBadReplies is issue 15's client gate: against a pinned set of four, a
// certificate with two thirds of the stake or less, one with a non-member's vote, one for
// another app hash than the header the node claims, and replies signed by a non-member are each
// refused with the named error; the valid twin is accepted, and the client records which member
// answered.
func TestClientRefusesBadReplies(t *testing.T) {
	members, set := testSet(t)
	outsider := key(30)
	root := common.HexToHash("0x5afe")
	const certHeight = 3
	header := qc.Header{ChainID: chainID, Height: certHeight, AppHash: root, ValSetHash: set.Hash()}
	other := header
	other.AppHash = common.HexToHash("0xbad")
	ctx := ctxT(t)

	for _, tc := range []struct {
		name string
		cert *qc.Certificate
		want error
	}{
		{"valid twin", certify(t, header, members[0], members[1], members[2]), nil},
		{"two thirds or less of the stake", certify(t, header, members[0], members[1]), qc.ErrNoQuorum},
		{"a non-member's vote", certify(t, header, members[0], members[1], outsider), qc.ErrNotMember},
		{"mismatching app hash", certify(t, other, members[0], members[1], members[2]), qc.ErrHeaderMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := (&lyingValidator{key: members[1], certHeight: certHeight, root: root, cert: tc.cert}).start(t)
			c, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: chainID, Validators: set, Key: key(9)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Validator() != members[1].Address() {
				t.Fatalf("answered by %s, want the member %s", c.Validator(), members[1].Address())
			}
			h, got, err := c.CertifiedHead(ctx)
			if tc.want == nil {
				if err != nil || h != certHeight || got != root {
					t.Fatalf("certified head %d %s, %v; want %d %s", h, got, err, certHeight, root)
				}
				return
			}
			if !errors.Is(err, l1client.ErrCertificate) || !errors.Is(err, tc.want) {
				t.Fatalf("certified head %d %s, %v; want ErrCertificate and %v", h, got, err, tc.want)
			}
		})
	}

	t.Run("replies signed by a non-member", func(t *testing.T) {
		addr := (&lyingValidator{key: outsider, certHeight: certHeight, root: root,
			cert: certify(t, header, members[0], members[1], members[2])}).start(t)
		c, err := l1client.New(l1client.Config{Addr: addr, ChainID: chainID, Validators: set, Key: key(9)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitFor(ctx, t, "the refused dial", func() bool { return errors.Is(c.Err(), quicrpc.ErrNotMember) })
		if err := c.Err(); !bytes.Contains([]byte(err.Error()), []byte(outsider.Address().Hex())) {
			t.Fatalf("refusal %v does not name the non-member %s", err, outsider.Address())
		}
		if _, _, err := c.CertifiedHead(ctx); !errors.Is(err, l1client.ErrDisconnected) {
			t.Fatalf("certified head from a non-member: %v, want ErrDisconnected", err)
		}
	})

	t.Run("one pinned key has no set", func(t *testing.T) {
		addr := (&lyingValidator{key: members[0], certHeight: certHeight, root: root,
			cert: certify(t, header, members[0], members[1], members[2])}).start(t)
		c, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: chainID, Validator: members[0].Public(), Key: key(9)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, _, err := c.CertifiedHead(ctx); !errors.Is(err, l1client.ErrNoValidatorSet) {
			t.Fatalf("certified head with one pinned key: %v, want ErrNoValidatorSet", err)
		}
	})
}
