package prover

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

const testChainID = 1337

// validBatches makes batches of valid, signed transactions from the genesis state: it takes
// the mix of l2test.RandomBatches, gives every key a known secret, signs transfers and
// withdraws (a quarter of them with a nonce point that has a small-order component, valid by
// the cofactored rule), and keeps only the transactions with status ok in a shadow reference
// state. Every type appears, including no-ops.
type validBatches struct {
	random  *l2test.RandomBatches
	shadow  *l2.State
	signers map[l2.PublicKey]*l2test.Signer // by the original key and by the signer's own key
	pending []l2.Tx
	n       int
}

func newValidBatches(t testing.TB, seed uint64, depth int) *validBatches {
	t.Helper()
	s, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	return &validBatches{random: l2test.NewRandomBatches(seed, depth), shadow: s, signers: make(map[l2.PublicKey]*l2test.Signer)}
}

// next returns n valid transactions, in order after those of the previous calls.
func (v *validBatches) next(t testing.TB, n int) []l2.Tx {
	t.Helper()
	opts := l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true}
	var out []l2.Tx
	for len(out) < n {
		if len(v.pending) == 0 {
			txs, err := l2.DecodeBatch(v.random.Next(16))
			if err != nil {
				t.Fatal(err)
			}
			v.pending = txs
		}
		tx := v.pending[0]
		v.pending = v.pending[1:]
		switch tx.Type {
		case l2.TxDeposit:
			s, ok := v.signers[tx.PubKey]
			if !ok {
				s = l2test.NewSigner(big.NewInt(int64(1000 + len(v.signers))))
				v.signers[tx.PubKey] = s
				v.signers[s.Public()] = s
			}
			tx.PubKey = s.Public()
		case l2.TxTransfer, l2.TxWithdraw:
			acc, ok := v.shadow.Account(tx.From)
			if !ok {
				continue
			}
			v.n++
			v.signers[acc.PubKey].Sign(testChainID, &tx, l2test.TorsionPoint([]int{1, 2, 1, 8}[v.n%4]))
		}
		if st, _ := v.shadow.Apply(&tx, opts); st == l2.StatusOK {
			out = append(out, tx)
		}
	}
	return out
}

// isSolved runs the circuit of p on the assignment in gnark's test engine.
func isSolved(p Params, c *BatchCircuit) error {
	return test.IsSolved(NewCircuit(p), c, ecc.BN254.ScalarField())
}

// fe reads an assigned value as a field element.
func fe(t *testing.T, v frontend.Variable) fr.Element {
	t.Helper()
	var e fr.Element
	switch x := v.(type) {
	case *big.Int:
		e.SetBigInt(x)
	case int:
		e.SetInt64(int64(x))
	case uint8:
		e.SetUint64(uint64(x))
	case uint32:
		e.SetUint64(uint64(x))
	case uint64:
		e.SetUint64(x)
	default:
		t.Fatalf("assigned value of type %T", v)
	}
	return e
}

// feU64 reads an assigned value that is below 2^64.
func feU64(t *testing.T, v frontend.Variable) uint64 {
	t.Helper()
	e := fe(t, v)
	if !e.IsUint64() {
		t.Fatalf("assigned value %s is not a uint64", e.String())
	}
	return e.Uint64()
}
