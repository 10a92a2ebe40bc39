package l2_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

func TestMSM(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := twistededwards.GetEdwardsCurve().Base
	for _, n := range []int{1, 2, 7, 40, 300} {
		points := make([]twistededwards.PointAffine, n)
		scalars := make([][32]byte, n)
		want := l2.Identity()
		for i := range points {
			var k big.Int
			k.SetUint64(rng.Uint64() | 1)
			points[i].ScalarMultiplication(&base, &k)
			if i%3 == 1 {
				t8 := l2test.TorsionPoint(8)
				points[i].Add(&points[i], &t8) // a point with a small-order component
			}
			for j := range scalars[i] {
				if j >= 32-int(rng.IntN(33)) {
					scalars[i][j] = byte(rng.Uint32())
				}
			}
			var s big.Int
			s.SetBytes(scalars[i][:])
			var p twistededwards.PointExtended
			p.FromAffine(&points[i])
			p.ScalarMultiplication(&p, &s)
			want.Add(&want, &p)
		}
		got := l2.MSM(points, scalars)
		var a, b twistededwards.PointAffine
		a.FromExtended(&got)
		b.FromExtended(&want)
		if !a.Equal(&b) {
			t.Fatalf("n=%d: msm differs from the sum of scalar multiplications", n)
		}
	}
}

// TestVerifyTxBatch compares VerifyTxBatch with l2.VerifyTx: all valid (the batch equation must hold
// without falling back), then each kind of invalid signature alone in a valid batch.
func TestVerifyTxBatch(t *testing.T) {
	const testChainID = 7
	keys := make([]*l2.PrivateKey, 4)
	for i := range keys {
		k, err := l2.GenerateKey(rand.NewChaCha8([32]byte{31, byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	signer := l2test.NewSigner(big.NewInt(777))
	n := 40
	mk := func() []l2.SignatureCheck {
		jobs := make([]l2.SignatureCheck, n)
		for i := range jobs {
			tx := l2.Tx{Type: l2.TxTransfer, From: uint32(i), To: 1, Amount: uint64(i), Nonce: 3}
			pk := keys[i%4].Public()
			if i%5 == 0 {
				signer.Sign(testChainID, &tx, l2test.TorsionPoint(4)) // valid by the cofactored rule
				pk = signer.Public()
			} else if err := l2.SignTx(keys[i%4], testChainID, &tx); err != nil {
				t.Fatal(err)
			}
			jobs[i] = l2.SignatureCheck{PubKey: pk, Tx: &tx, Challenge: l2.Challenge(pk, testChainID, &tx)}
		}
		return jobs
	}
	check := func(name string, jobs []l2.SignatureCheck) bool {
		t.Helper()
		results := make([]bool, len(jobs))
		held := l2.VerifyTxBatch(jobs, results)
		for i, j := range jobs {
			if want := l2.VerifyTx(j.PubKey, testChainID, j.Tx); results[i] != want {
				t.Fatalf("%s: job %d: batch %v, reference %v", name, i, results[i], want)
			}
		}
		return held
	}
	if !check("valid", mk()) {
		t.Fatal("a batch of valid signatures failed the batch equation")
	}
	tamper := map[string]func(j *l2.SignatureCheck){
		"amount": func(j *l2.SignatureCheck) { j.Tx.Amount++; j.Challenge = l2.Challenge(j.PubKey, testChainID, j.Tx) },
		"wrong key": func(j *l2.SignatureCheck) {
			j.PubKey = keys[3].Public()
			j.Challenge = l2.Challenge(j.PubKey, testChainID, j.Tx)
		},
		"S": func(j *l2.SignatureCheck) { j.Tx.Sig.S.SetUint64(5) },
		"S >= L": func(j *l2.SignatureCheck) {
			o := twistededwards.GetEdwardsCurve().Order
			var s big.Int
			s.Add(&o, big.NewInt(1))
			j.Tx.Sig.S.SetBigInt(&s)
		},
		"R off curve":   func(j *l2.SignatureCheck) { j.Tx.Sig.RX.SetUint64(9) },
		"key off curve": func(j *l2.SignatureCheck) { j.PubKey.X.SetUint64(9) },
		"R + torsion": func(j *l2.SignatureCheck) {
			r := twistededwards.NewPointAffine(j.Tx.Sig.RX, j.Tx.Sig.RY)
			t8 := l2test.TorsionPoint(8)
			r.Add(&r, &t8)
			j.Tx.Sig.RX, j.Tx.Sig.RY = r.X, r.Y // R changes c: invalid
			j.Challenge = l2.Challenge(j.PubKey, testChainID, j.Tx)
		},
	}
	for name, f := range tamper {
		jobs := mk()
		f(&jobs[7])
		check(name, jobs)
	}
	jobs := mk()
	check("small", jobs[:l2.MinBatchVerify-1])
}
