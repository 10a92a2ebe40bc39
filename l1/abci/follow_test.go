package abci

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// setFollower is a client pinned to the genesis set, the way TestValidatorJoinLeave checks
// that clients follow the certified set changes (l1client follow.go).
type setFollower struct {
	tn      *testNet
	genesis *qc.ValidatorSet
	honest  string // QUIC endpoint of validator 0
	forging string // QUIC endpoint of validator 3 serving forged sets (fault injection)
	c       *l1client.Client
}

func newSetFollower(ctx context.Context, tn *testNet) *setFollower {
	tn.t.Helper()
	set, _, err := validatorSet(tn.vals)
	if err != nil {
		tn.t.Fatal(err)
	}
	srv, err := tn.nodes[0].n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: tn.nodes[0].pq})
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(srv.Stop) // after the net's cleanup: runs before the nodes stop
	f := &setFollower{tn: tn, genesis: set, honest: srv.Addr().String(), forging: serveForgingSets(ctx, tn, tn.nodes[3])}
	f.c = f.dial(ctx, f.honest)
	return f
}

// dial returns a client of addr pinned to the genesis set.
func (f *setFollower) dial(ctx context.Context, addr string) *l1client.Client {
	f.tn.t.Helper()
	c, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: testChainID, Validators: f.genesis})
	if err != nil {
		f.tn.t.Fatal(err)
	}
	f.tn.t.Cleanup(func() { c.Close() })
	return c
}

// check reads a's balance proven through c and wants the set c then trusts to be in force from
// height from with n members.
func (f *setFollower) check(ctx context.Context, c *l1client.Client, a common.Address, balance, from uint64, n int) {
	f.tn.t.Helper()
	acct, err := c.Verified().Account(ctx, a)
	if err != nil || acct.Balance != balance {
		f.tn.t.Fatalf("proven balance of %s: %d %v, want %d", a, acct.Balance, err, balance)
	}
	set, at := c.TrustedSet()
	if at != from || len(set.Validators()) != n {
		f.tn.t.Fatalf("client trusts a set of %d from %d, want %d from %d", len(set.Validators()), at, n, from)
	}
}

// checkForged wants a fresh client of the forging validator to refuse its set change.
func (f *setFollower) checkForged(ctx context.Context, a common.Address) {
	f.tn.t.Helper()
	c := f.dial(ctx, f.forging)
	_, err := c.Verified().Account(ctx, a)
	if !errors.Is(err, l1client.ErrSetNotProven) || !errors.Is(err, l1client.ErrCertificate) {
		f.tn.t.Fatalf("read through a validator forging the set: %v, want ErrSetNotProven", err)
	}
	if set, from := c.TrustedSet(); from != 1 || set.Hash() != f.genesis.Hash() {
		f.tn.t.Fatalf("the client adopted the forged set %s from %d", set.Hash(), from)
	}
	c.Close()
}

// serveForgingSets serves v's proven reads (l1_proveState) honestly but answers l1_validators,
// for any height past genesis's set, with a forged set: the real one plus a member of the
// forger's own with a third of the power, hashed right so only its proof can give it away.
func serveForgingSets(ctx context.Context, tn *testNet, v *validatorNode) string {
	tn.t.Helper()
	srv, err := quicrpc.NewServer(quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ChainID: testChainID, ValidatorKey: v.pq})
	if err != nil {
		tn.t.Fatal(err)
	}
	forger, err := pqkey.GenerateKey(rand.Reader)
	if err != nil {
		tn.t.Fatal(err)
	}
	srv.Handle(node.MethodProveState, func(_ context.Context, req *quicrpc.Request) ([]byte, error) {
		r, err := stateproof.DecodeRequest(req.Payload)
		if err != nil {
			return nil, err
		}
		reply, err := v.n.ProveState(r)
		if err != nil {
			return nil, err
		}
		return rlp.EncodeToBytes(reply)
	})
	srv.Handle(node.MethodValidators, func(_ context.Context, req *quicrpc.Request) ([]byte, error) {
		var h uint64
		if err := rlp.DecodeBytes(req.Payload, &h); err != nil {
			return nil, err
		}
		s, err := v.n.Signers(h)
		if err != nil {
			return nil, err
		}
		if s.From > 1 {
			s.Members = append(s.Members, l1api.SetMember{PQKey: forger.Public().Bytes(), ConsensusKey: make([]byte, 32), Power: 3 * testPower})
			set, _, err := validatorSetOf(s.Members)
			if err != nil {
				return nil, err
			}
			s.Hash = set.Hash()
		}
		return rlp.EncodeToBytes(s)
	})
	if err := srv.Start(ctx); err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(srv.Stop)
	return srv.Addr().String()
}

// validatorSetOf is members as a certificate set.
func validatorSetOf(members []l1api.SetMember) (*qc.ValidatorSet, map[string]common.Address, error) {
	vals := make([]Validator, len(members))
	for i, m := range members {
		vals[i] = Validator{PQKey: m.PQKey, ConsensusKey: m.ConsensusKey, Power: m.Power}
	}
	return validatorSet(vals)
}
