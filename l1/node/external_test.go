package node

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// TestCommitExternal: a node under ExternalConsensus makes no block itself; a block decided
// elsewhere, executed and committed with CommitExternal, takes the transactions it included out
// of the mempool, and those it made stale (a pooled transaction whose nonce another validator's
// transaction took) too, from the log as well: a restart does not bring them back. The block's
// extra writes (a certificate) land with it, and a transaction is relayed once admitted.
func TestCommitExternal(t *testing.T) {
	fs := vfs.NewMem()
	cfg := config("ext", fs)
	cfg.ExternalConsensus, cfg.Key = true, nil
	n := newNode(t, cfg)
	if _, err := n.ProduceBlock(t.Context()); err == nil {
		t.Fatal("a node under external consensus produced a block")
	}
	var relayed [][]byte
	n.SetRelay(func(raw []byte) error { relayed = append(relayed, raw); return nil })

	mine, other, next := transfer(t, 0, 5), transfer(t, 0, 7), transfer(t, 1, 1)
	for _, raw := range [][]byte{mine, next} {
		if _, err := n.SubmitTx(raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.SubmitTx(mine); !errors.Is(err, ErrKnownTx) || len(relayed) != 3 {
		t.Fatalf("resubmission: %v, %d relayed; want ErrKnownTx and a relay again", err, len(relayed))
	}
	if _, err := n.Admit(other); !errors.Is(err, ErrNonceTaken) {
		t.Fatalf("another transaction of nonce 0: %v, want ErrNonceTaken", err)
	}
	if len(relayed) != 3 {
		t.Fatal("Admit relayed")
	}

	// Another validator's block includes other (nonce 0) and next (nonce 1).
	p, err := n.Chain().Execute(1, [][]byte{other, next})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Receipts[0].OK || !p.Receipts[1].OK {
		t.Fatalf("receipts %+v", p.Receipts)
	}
	if err := n.CommitExternal(p, func(b *pebble.Batch) error { return PutCertificate(b, 0, []byte("cert")) }); err != nil {
		t.Fatal(err)
	}
	if n.Pooled(crypto.Keccak256Hash(mine)) || n.Pooled(crypto.Keccak256Hash(next)) {
		t.Fatal("a stale or included transaction is still pooled")
	}
	if st, err := n.Status(); err != nil || st.MempoolTxs != 0 || st.Height != 1 || balance(t, n, bob.Address()) != 8 {
		t.Fatalf("status %+v %v, bob %d; want an empty mempool at height 1, bob 8", st, err, balance(t, n, bob.Address()))
	}
	if c, err := n.Certificate(0); err != nil || string(c) != "cert" {
		t.Fatalf("certificate of height 0: %q %v", c, err)
	}
	if _, err := n.Certificate(1); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("certificate of height 1: %v, want not found", err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n = newNode(t, cfg)
	if st, err := n.Status(); err != nil || st.MempoolTxs != 0 {
		t.Fatalf("after a restart: %+v %v; want the log empty", st, err)
	}

	// A transaction acknowledged before a restart is relayed again when the relay is set: the
	// engine's mempool did not survive.
	late := transfer(t, 2, 1)
	if _, err := n.SubmitTx(late); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n = newNode(t, cfg)
	relayed = nil
	n.SetRelay(func(raw []byte) error { relayed = append(relayed, raw); return nil })
	if len(relayed) != 1 || !bytes.Equal(relayed[0], late) {
		t.Fatalf("%d transactions relayed at SetRelay after a restart, want the pooled one", len(relayed))
	}
}
