package l1source_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1source"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

const l1ChainID = 31337

func key(i byte) *pqkey.PrivateKey { return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x1c, 1: i}) }

// TestDeposits: deposits queued on a real in-process L1 node read back through the adapter by
// queue index, with their keys, amounts and depositor; the end of the queue is not an error. An
// ML-DSA deposit comes with its registered key, which Keys also gives.
func TestDeposits(t *testing.T) {
	ctx := context.Background()
	val, user := key(0), key(1)
	n, err := node.New(node.Config{FS: vfs.NewMem(), Key: val, Genesis: chain.Genesis{ChainID: l1ChainID, Validator: val.Public().Bytes(),
		Timestamp: 1, Alloc: []chain.Alloc{{Address: user.Address(), Balance: 1_000_000}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	nonce := uint64(0)
	send := func(typ chain.TxType, payload any) {
		t.Helper()
		raw, err := chain.SignTx(user, typ, l1ChainID, nonce, payload)
		if err != nil {
			t.Fatal(err)
		}
		nonce++
		if _, err := n.SubmitTx(raw); err != nil {
			t.Fatal(err)
		}
		r, err := n.ProduceBlock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range r.Errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	send(chain.TxRegisterRollup, &chain.RollupConfig{L2ChainID: 7, TreeDepth: 8, BatchSize: 4, SequencerBond: 10, ChallengeWindow: 4,
		ForcedInclusionWindow: 20, ExodusTimeout: 1000, Sequencers: []common.Address{user.Address()}})
	var pks []l2.PublicKey
	for i := range 3 {
		k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, 64)))
		if err != nil {
			t.Fatal(err)
		}
		pk := k.Public()
		pks = append(pks, pk)
		send(chain.TxDeposit, &chain.Deposit{RollupID: 1, Amount: uint64(10 + i), PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
	}
	src := l1source.Deposits{L1: n.Local(), RollupID: 1}
	got, err := src.Deposits(ctx, 1, 5)
	if err != nil || len(got) != 2 || got[0].QueueIndex != 1 || got[0].Amount != 11 || got[1].QueueIndex != 2 || got[1].Amount != 12 {
		t.Fatalf("Deposits(1, 5) = %+v, %v", got, err)
	}
	if got[1].PubKey != pks[2] || got[1].Depositor != user.Address() {
		t.Fatalf("deposit 2: %+v", got[1])
	}
	if got, err := src.Deposits(ctx, 0, 1); err != nil || len(got) != 1 || got[0].Amount != 10 {
		t.Fatalf("Deposits(0, 1) = %+v, %v", got, err)
	}
	if got, err := src.Deposits(ctx, 3, 1); err != nil || len(got) != 0 {
		t.Fatalf("Deposits past the queue = %+v, %v", got, err)
	}

	// A deposit to an ML-DSA account carries its key, read from L1's registry; the registry is
	// the sequencer's KeyBook (Keys), which knows no other key.
	pub := key(9).Public().Bytes()
	send(chain.TxDeposit, &chain.Deposit{RollupID: 1, Amount: 13, MLDSAKey: pub})
	got, err = src.Deposits(ctx, 2, 5)
	if err != nil || len(got) != 2 || got[0].MLDSAKey != nil {
		t.Fatalf("Deposits(2, 5) = %+v, %v", got, err)
	}
	if d := got[1]; d.QueueIndex != 3 || d.PubKey != l2.MLDSAPublicKey(pub) || !bytes.Equal(d.MLDSAKey, pub) || d.Amount != 13 {
		t.Fatalf("ML-DSA deposit: %+v", d)
	}
	keys := l1source.Keys{L1: n.Local(), RollupID: 1}
	if k, ok := keys.MLDSAKey(l2.MLDSAKeyHash(pub)); !ok || !bytes.Equal(k, pub) {
		t.Fatalf("Keys: the registered key: %v", ok)
	}
	if _, ok := keys.MLDSAKey(l2.MLDSAKeyHash(key(10).Public().Bytes())); ok {
		t.Fatal("Keys: a key no deposit registered is known")
	}
}
