package abci

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// TestProvenReadFourValidators: on 4 in-process CometBFT validators, a client over loopback
// QUIC asks one validator for a balance at the newest certified height (l1_proveState, height
// 0); the reply's certificate verifies against the validator set pinned from genesis for the
// reply's (height, app hash), the entries' proofs verify against that app hash, and the balance
// is the transfer's. A certificate checked against another app hash, and an entry checked
// against another root, are refused.
func TestProvenReadFourValidators(t *testing.T) {
	tn := newTestNet(t, 4)
	pinned, _, err := validatorSet(tn.vals)
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x5252")
	if _, err := tn.nodes[1].n.SubmitTx(tn.transfer(0, to, 700)); err != nil {
		t.Fatal(err)
	}
	tn.waitBalance(to, 700, 30*time.Second)
	tn.waitHeight(tn.minHeight()+2, 30*time.Second) // the transfer's height is certified

	v := tn.nodes[2]
	ctx := context.Background()
	srv, err := v.n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: v.pq})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := l1client.Dial(ctx, l1client.Config{Addr: srv.Addr().String(), ChainID: testChainID, Validator: v.pq.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	keys := [][]byte{stateproof.AccountKey(to), stateproof.AccountKey(common.Address{0xee, 0xee})}
	r, err := c.ProveState(ctx, 0, keys)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := qc.Decode(r.Cert)
	if err != nil {
		t.Fatalf("certificate of height %d: %v", r.Height, err)
	}
	if err := cert.Verify(pinned, testChainID, r.Height, r.AppHash); err != nil {
		t.Fatalf("certificate of height %d: %v", r.Height, err)
	}
	if err := r.VerifyEntries(keys); err != nil {
		t.Fatal(err)
	}
	var acct chain.Account
	if !r.Entries[0].Present || r.Entries[1].Present {
		t.Fatalf("present: %v %v, want true false", r.Entries[0].Present, r.Entries[1].Present)
	}
	if err := rlp.DecodeBytes(r.Entries[0].Value, &acct); err != nil || acct.Balance != 700 {
		t.Fatalf("balance at certified height %d: %d (%v), want 700", r.Height, acct.Balance, err)
	}
	if head, _, _, _ := v.n.Chain().Head(); r.Height+2 > head {
		t.Fatalf("certified height %d, head %d: a height's certificate commits two heights later", r.Height, head)
	}
	other := r.AppHash
	other[0] ^= 1
	if err := cert.Verify(pinned, testChainID, r.Height, other); !errors.Is(err, qc.ErrHeaderMismatch) && !errors.Is(err, qc.ErrBadSignature) {
		t.Fatalf("certificate against another app hash: %v", err)
	}
	r.AppHash = other
	if err := r.VerifyEntries(keys); !errors.Is(err, stateproof.ErrMismatch) {
		t.Fatalf("entries against another root: %v", err)
	}
}
