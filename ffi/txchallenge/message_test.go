package txchallenge_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/l2"
)

// TestMessagesMatchSignedMessage checks the batched messages against l2.SignedMessage for
// several chains and batch sizes, one Hasher reused across them and across Fill calls (which
// share its buffer).
func TestMessagesMatchSignedMessage(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	for _, chainID := range []uint64{0, 7, math.MaxUint64} {
		h := txchallenge.NewHasher(chainID)
		for _, n := range []int{1, 300, 2, 0, 33} {
			checks := randomChecks(rng, n)
			txs := make([]*l2.Tx, n)
			for k := range checks {
				txs[k] = checks[k].Tx
			}
			out := make([]fr.Element, n)
			h.Messages(txs, out)
			h.Fill(checks) // the next Messages must not see Fill's words
			for k := range txs {
				if want := l2.SignedMessage(chainID, txs[k]); !out[k].Equal(&want) {
					t.Fatalf("chain %d, batch of %d, tx %d: message %s, l2.SignedMessage %s", chainID, n, k, out[k].String(), want.String())
				}
			}
		}
	}
}
