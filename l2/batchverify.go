package l2

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"math/big"
	mrand "math/rand/v2"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
)

// Batch verification of the signatures of docs §6 (the cofactored rule of VerifyTx).
//
// Signature i is valid iff 8·T_i = 0 with T_i = S_i·B − R_i − c_i·A_i (after the checks that R_i
// and A_i are points of the curve and S_i < L, done one by one here exactly as VerifyTx does).
// With z_i random 128-bit integers, the batch check is
//
//	8·(Σ z_i·S_i mod L)·B = 8·(Σ z_i·R_i + Σ (z_i·c_i mod L)·A_i)
//
// i.e. Σ z_i·(8·T_i) = 0. Each 8·T_i lies in the subgroup of prime order L (the curve's order is
// 8·L), where reducing scalars mod L changes nothing. If every signature is valid the equation
// holds; if some 8·T_j ≠ 0 it holds for at most one value of z_j mod L given the others, that
// is with probability ≤ 2^-128. When it fails, every signature of the batch is checked on its own
// with l2.VerifyTxChallenge, so the result for each signature is exactly the reference's except
// with probability 2^-128 per batch. The z_i come from crypto/rand: an attacker cannot choose
// signatures that cancel out. An attacker sending invalid signatures makes its batch fall back to
// the single checks: at most the cost of the batch on top of the old cost per signature.
//
// The right side is one multi-scalar multiplication (bucket method) over 2n points; the left side
// one fixed-base multiplication. For n = 256 that is about 70 point additions per signature,
// against about 380 for the two scalar multiplications of a single check.

// minBatchVerify is the smallest batch verified with the batch equation: below it the
// multi-scalar multiplication's fixed costs exceed what it saves.
const minBatchVerify = 8

// SignatureCheck is one signature to verify: the transaction, the sender's key and the challenge
// c = Challenge(PubKey, chainID, Tx), which callers may compute in bulk (the sequencer hashes
// challenges in batches through the native core).
type SignatureCheck struct {
	PubKey    PublicKey
	Tx        *Tx
	Challenge fr.Element
}

// VerifyTxBatch sets results[i] to what VerifyTxChallenge says of checks[i] (except with
// probability 2^-128 per call, see above) for len(results) >= len(checks). It reports whether
// the batch equation held, i.e. no signature needed a check of its own.
func VerifyTxBatch(checks []SignatureCheck, results []bool) (batchHeld bool) {
	jobs := checks
	if len(jobs) < minBatchVerify {
		for i, j := range jobs {
			results[i] = VerifyTxChallenge(j.PubKey, j.Tx, j.Challenge)
		}
		return true
	}
	order := curveOrder()
	points := make([]twistededwards.PointAffine, 0, 2*len(jobs))
	scalars := make([][32]byte, 0, 2*len(jobs))
	var seed [32]byte
	rand.Read(seed[:]) // never fails (crypto/rand panics rather than return an error)
	rng := mrand.NewChaCha8(seed)
	var sum, s, z, zc, c big.Int
	var buf [32]byte
	batched := make([]int, 0, len(jobs))
	for i, j := range jobs {
		r := twistededwards.NewPointAffine(j.Tx.Sig.RX, j.Tx.Sig.RY)
		a := twistededwards.NewPointAffine(j.PubKey.X, j.PubKey.Y)
		j.Tx.Sig.S.BigInt(&s)
		if !r.IsOnCurve() || !a.IsOnCurve() || s.Cmp(order) >= 0 {
			results[i] = false // what VerifyTx says for these, without any hashing
			continue
		}
		binary.BigEndian.PutUint64(buf[16:24], rng.Uint64())
		binary.BigEndian.PutUint64(buf[24:32], rng.Uint64())
		z.SetBytes(buf[16:32])
		sum.Add(&sum, s.Mul(&s, &z))
		j.Challenge.BigInt(&c)
		zc.Mul(&z, &c).Mod(&zc, order)
		points = append(points, r, a)
		var zb, zcb [32]byte
		z.FillBytes(zb[:])
		zc.FillBytes(zcb[:])
		scalars = append(scalars, zb, zcb)
		batched = append(batched, i)
	}
	if len(batched) > 0 {
		sum.Mod(&sum, order)
		var sb twistededwards.PointAffine
		sb.ScalarMultiplicationBase(&sum)
		var lhs twistededwards.PointExtended
		lhs.FromAffine(&sb)
		rhs := msm(points, scalars)
		if cofactoredEqual(&lhs, &rhs) {
			for _, i := range batched {
				results[i] = true
			}
			return true
		}
	}
	for _, i := range batched {
		results[i] = VerifyTxChallenge(jobs[i].PubKey, jobs[i].Tx, jobs[i].Challenge)
	}
	return false
}

// cofactoredEqual reports whether 8·p = 8·q, comparing projectively.
func cofactoredEqual(p, q *twistededwards.PointExtended) bool {
	for range 3 {
		p.Double(p)
		q.Double(q)
	}
	var u, v fr.Element
	if u.Mul(&p.X, &q.Z); !u.Equal(v.Mul(&q.X, &p.Z)) {
		return false
	}
	u.Mul(&p.Y, &q.Z)
	return u.Equal(v.Mul(&q.Y, &p.Z))
}

func identity() twistededwards.PointExtended {
	var p twistededwards.PointExtended
	p.FromAffine(&twistededwards.PointAffine{Y: fr.One()})
	return p
}

// msm returns Σ scalars[i]·points[i] (scalars as 32-byte big-endian integers) by the bucket
// method, using gnark-crypto's unified (complete) addition formulas, which handle every point of
// the curve, of any order, and the identity. The window c minimises (256/c)·(n + 2^(c+1))
// additions: n bucket additions and about 2^(c+1) for summing the buckets, per window.
func msm(points []twistededwards.PointAffine, scalars [][32]byte) twistededwards.PointExtended {
	c, best := 1, math.MaxInt
	for w := 1; w <= 12; w++ {
		if cost := (256 + w - 1) / w * (len(points) + 2<<w); cost < best {
			c, best = w, cost
		}
	}
	limbs := make([][4]uint64, len(scalars)) // little-endian 64-bit limbs
	for i := range scalars {
		for k := range 4 {
			limbs[i][k] = binary.BigEndian.Uint64(scalars[i][32-8*(k+1):])
		}
	}
	digit := func(l *[4]uint64, bit int) uint64 { // bits [bit, bit+c) of the scalar
		word, off := bit/64, bit%64
		d := l[word] >> off
		if off+c > 64 && word < 3 {
			d |= l[word+1] << (64 - off)
		}
		return d & (1<<c - 1)
	}
	acc := identity()
	buckets := make([]twistededwards.PointExtended, 1<<c)
	used := make([]bool, 1<<c)
	windows := (256 + c - 1) / c
	for w := windows - 1; w >= 0; w-- {
		if w < windows-1 {
			for range c {
				acc.Double(&acc)
			}
		}
		clear(used)
		any := false
		for i := range points {
			d := digit(&limbs[i], w*c)
			if d == 0 {
				continue
			}
			if !used[d] {
				buckets[d].FromAffine(&points[i])
				used[d] = true
			} else {
				buckets[d].MixedAdd(&buckets[d], &points[i])
			}
			any = true
		}
		if !any {
			continue
		}
		// Σ d·bucket[d] as the sum of the running sums from the top bucket down.
		running, total := identity(), identity()
		started := false
		for d := len(buckets) - 1; d >= 1; d-- {
			if used[d] {
				running.Add(&running, &buckets[d])
				started = true
			}
			if started {
				total.Add(&total, &running)
			}
		}
		acc.Add(&acc, &total)
	}
	return acc
}
