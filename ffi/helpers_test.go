package ffi

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/l2"
)

// newTestCore returns an empty core closed at the end of the test.
func newTestCore(tb testing.TB, depth uint32) *Core {
	tb.Helper()
	c, err := New(depth, 64)
	if err != nil {
		tb.Fatalf("New(%d): %v", depth, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// stateImage returns the core's snapshot: two cores (or one core at two times) hold the same
// state exactly when their images are equal (sorted accounts and the root).
func stateImage(tb testing.TB, c *Core) []byte {
	tb.Helper()
	b, err := c.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustRoot(tb testing.TB, c *Core) [32]byte {
	tb.Helper()
	r, err := c.Root()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func mustApply(tb testing.TB, c *Core, txs []byte, out *BatchOutput) {
	tb.Helper()
	if err := c.ApplyBatch(txs, out); err != nil {
		tb.Fatal(err)
	}
}

// testKey is an arbitrary public key: the state does not check that keys are curve points
// (docs §4.1).
func testKey(seed uint64) l2.PublicKey {
	var pk l2.PublicKey
	pk.X.SetUint64(1000 + seed)
	pk.Y.SetUint64(2000 + seed)
	return pk
}

func deposit(index uint32, seed, amount uint64) l2.Tx {
	return l2.Tx{Type: l2.TxDeposit, From: index, Amount: amount, PubKey: testKey(seed)}
}

func transfer(from, to uint32, amount, nonce uint64) l2.Tx {
	return l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: nonce}
}

func withdraw(from uint32, addr byte, amount, nonce uint64) l2.Tx {
	return l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: nonce, Address: [20]byte{19: addr}}
}

func batch(txs ...l2.Tx) []byte { return l2.EncodeBatch(txs) }

// goAccountOf converts a reference account to this package's Account.
func goAccountOf(a l2.Account, exists bool) Account {
	if !exists {
		return Account{}
	}
	return Account{PubKeyX: a.PubKey.X.Bytes(), PubKeyY: a.PubKey.Y.Bytes(), Balance: a.Balance, Nonce: a.Nonce, Exists: true}
}

func wordOf(e fr.Element) [32]byte { return e.Bytes() }

func frOf(b [32]byte) fr.Element {
	var e fr.Element
	if err := e.SetBytesCanonical(b[:]); err != nil {
		panic(err)
	}
	return e
}
