package sequencer

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
		want := identity()
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
		got := msm(points, scalars)
		var a, b twistededwards.PointAffine
		a.FromExtended(&got)
		b.FromExtended(&want)
		if !a.Equal(&b) {
			t.Fatalf("n=%d: msm differs from the sum of scalar multiplications", n)
		}
	}
}

// TestVerifyBatch compares verifyBatch with l2.VerifyTx: all valid (the batch equation must hold
// without falling back), then each kind of invalid signature alone in a valid batch.
func TestVerifyBatch(t *testing.T) {
	keys := newKeys(t, 4, 31)
	signer := l2test.NewSigner(big.NewInt(777))
	n := 40
	mk := func() []*verifyJob {
		jobs := make([]*verifyJob, n)
		for i := range jobs {
			tx := l2.Tx{Type: l2.TxTransfer, From: uint32(i), To: 1, Amount: uint64(i), Nonce: 3}
			pk := keys[i%4].Public()
			if i%5 == 0 {
				signer.Sign(testChainID, &tx, l2test.TorsionPoint(4)) // valid by the cofactored rule
				pk = signer.Public()
			} else if err := l2.SignTx(keys[i%4], testChainID, &tx); err != nil {
				t.Fatal(err)
			}
			jobs[i] = &verifyJob{pk: pk, tx: &tx, c: l2.Challenge(pk, testChainID, &tx)}
		}
		return jobs
	}
	check := func(name string, jobs []*verifyJob) {
		t.Helper()
		results := make([]bool, len(jobs))
		verifyBatch(jobs, results)
		for i, j := range jobs {
			if want := l2.VerifyTx(j.pk, testChainID, j.tx); results[i] != want {
				t.Fatalf("%s: job %d: batch %v, reference %v", name, i, results[i], want)
			}
		}
	}
	before := batchFallbacks.Load()
	check("valid", mk())
	if batchFallbacks.Load() != before {
		t.Fatal("a batch of valid signatures failed the batch equation")
	}
	tamper := map[string]func(j *verifyJob){
		"amount":        func(j *verifyJob) { j.tx.Amount++; j.c = l2.Challenge(j.pk, testChainID, j.tx) },
		"wrong key":     func(j *verifyJob) { j.pk = keys[3].Public(); j.c = l2.Challenge(j.pk, testChainID, j.tx) },
		"S":             func(j *verifyJob) { j.tx.Sig.S.SetUint64(5) },
		"S >= L":        func(j *verifyJob) { var s big.Int; s.Add(curveOrder(), big.NewInt(1)); j.tx.Sig.S.SetBigInt(&s) },
		"R off curve":   func(j *verifyJob) { j.tx.Sig.RX.SetUint64(9) },
		"key off curve": func(j *verifyJob) { j.pk.X.SetUint64(9) },
		"R + torsion": func(j *verifyJob) {
			r := twistededwards.NewPointAffine(j.tx.Sig.RX, j.tx.Sig.RY)
			t8 := l2test.TorsionPoint(8)
			r.Add(&r, &t8)
			j.tx.Sig.RX, j.tx.Sig.RY = r.X, r.Y // R changes c: invalid
			j.c = l2.Challenge(j.pk, testChainID, j.tx)
		},
	}
	for name, f := range tamper {
		jobs := mk()
		f(jobs[7])
		check(name, jobs)
	}
	jobs := mk()
	check("small", jobs[:minBatchVerify-1])
}
