package sequencer

import (
	"context"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// verifier checks EdDSA signatures (docs/protocol.md §6) before admission; the core does not.
// A batcher goroutine takes every job waiting (up to maxVerifyBatch) and computes their
// challenges c = H(R.x, R.y, pk.x, pk.y, H(TAG_TX, chain_id, w0, w1)) with one call into the
// native core's batched Poseidon2 per hashing round (5 calls per batch, never one per
// transaction); the batch is then shared among GOMAXPROCS workers, each of which checks its share
// with one batch equation (l2.VerifyTxBatch, falling back to l2.VerifyTxChallenge per signature when
// the share holds an invalid one) while the batcher hashes the next batch.
type verifier struct {
	chainID uint64
	prefix  [32]byte // H(TAG_TX, chain_id): the part of every message that is the same
	workers int
	jobs    chan *verifyJob
	// curve hands a share of a hashed batch to a worker. It is unbuffered: while every worker is
	// busy the batcher waits and jobs pile up, so the next batch is larger and the batch
	// equation cheaper per signature; an idle pool still takes a lone job at once.
	curve   chan []*verifyJob
	batcher sync.WaitGroup
	running sync.WaitGroup
}

// maxVerifyBatch bounds one hashing batch: larger batches amortise the cgo call, smaller ones
// keep a lone transaction's latency low (a batch never waits to fill up).
const maxVerifyBatch = 512

type verifyJob struct {
	pk   l2.PublicKey
	tx   *l2.Tx
	raw  []byte // the canonical encoding of tx: w0 | w1 | R.x | R.y | S
	c    fr.Element
	done chan bool
}

func newVerifier(chainID uint64, workers int) *verifier {
	var chain fr.Element
	chain.SetUint64(chainID)
	prefix := l2.HashMD(l2.TagTx, chain)
	v := &verifier{chainID: chainID, prefix: prefix.Bytes(), workers: workers, jobs: make(chan *verifyJob, maxVerifyBatch), curve: make(chan []*verifyJob)}
	v.batcher.Add(1)
	go v.batch()
	v.running.Add(workers)
	for range workers {
		go func() {
			defer v.running.Done()
			var results []bool
			var checks []l2.SignatureCheck
			for share := range v.curve {
				results = append(results[:0], make([]bool, len(share))...)
				checks = checks[:0]
				for _, j := range share {
					checks = append(checks, l2.SignatureCheck{PubKey: j.pk, Tx: j.tx, Challenge: j.c})
				}
				l2.VerifyTxBatch(checks, results)
				for i, j := range share {
					j.done <- results[i]
				}
			}
		}()
	}
	return v
}

func (v *verifier) batch() {
	defer v.batcher.Done()
	defer close(v.curve)
	batch := make([]*verifyJob, 0, maxVerifyBatch)
	var h challengeHasher
	for j := range v.jobs {
		batch = append(batch[:0], j)
	drain:
		for len(batch) < maxVerifyBatch {
			select {
			case j, ok := <-v.jobs:
				if !ok {
					break drain
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		h.challenges(v.chainID, v.prefix, batch)
		// One share per worker; each share is batch-verified (l2.VerifyTxBatch).
		per := (len(batch) + v.workers - 1) / v.workers
		for start := 0; start < len(batch); start += per {
			v.curve <- append([]*verifyJob(nil), batch[start:min(start+per, len(batch))]...)
		}
	}
}

// challengeHasher holds the buffers of the batched challenge computation.
type challengeHasher struct {
	left, right, out []byte
}

// challenges sets j.c for every job. Rounds (each one batched call, n or 2n pairs):
//
//	1: m1 = C(prefix, w0)  and  c1 = C(0, R.x)
//	2: msg = C(m1, w1)     and  c2 = C(c1, R.y)
//	3: c3 = C(c2, pk.x)    4: c4 = C(c3, pk.y)    5: c = C(c4, msg)
//
// which is HashMD(R.x, R.y, pk.x, pk.y, HashMD(TAG_TX, chain_id, w0, w1)). If the core refuses
// a batch (it cannot: every input is canonical), the challenges are computed in Go.
func (h *challengeHasher) challenges(chainID uint64, prefix [32]byte, jobs []*verifyJob) {
	n := len(jobs)
	size := 2 * 32 * n
	if cap(h.left) < size {
		h.left, h.right, h.out = make([]byte, size), make([]byte, size), make([]byte, size)
	}
	l, r, o := h.left[:size], h.right[:size], h.out[:size]
	word := func(b []byte, k int) []byte { return b[32*k : 32*k+32] }
	// Round 1.
	for k, j := range jobs {
		copy(word(l, k), prefix[:])
		copy(word(r, k), j.raw[0:32])
		clear(word(l, n+k))
		copy(word(r, n+k), j.raw[64:96])
	}
	ok := ffi.Poseidon2CompressBatch(l, r, o) == nil
	// Round 2: the outputs of round 1 become the left inputs.
	copy(l, o)
	for k, j := range jobs {
		copy(word(r, k), j.raw[32:64])
		copy(word(r, n+k), j.raw[96:128])
	}
	ok = ok && ffi.Poseidon2CompressBatch(l, r, o) == nil
	msg := append([]byte(nil), o[:32*n]...) // keep the messages for round 5
	// Rounds 3 and 4 on the challenge half only.
	cl, cr, co := l[32*n:], r[32*n:], o[32*n:]
	for round := 3; round <= 5 && ok; round++ {
		copy(cl, co)
		for k, j := range jobs {
			var w [32]byte
			switch round {
			case 3:
				w = j.pk.X.Bytes()
			case 4:
				w = j.pk.Y.Bytes()
			case 5:
				copy(w[:], word(msg, k))
			}
			copy(word(cr, k), w[:])
		}
		ok = ffi.Poseidon2CompressBatch(cl, cr, co) == nil
	}
	for k, j := range jobs {
		if ok {
			j.c.SetBytes(word(co, k)) // canonical: an output of the core
		} else {
			j.c = l2.Challenge(j.pk, chainID, j.tx)
		}
	}
}

// verify reports whether tx (with canonical encoding raw) carries a valid signature under pk.
func (v *verifier) verify(ctx context.Context, pk l2.PublicKey, tx *l2.Tx, raw []byte) (bool, error) {
	j := &verifyJob{pk: pk, tx: tx, raw: raw, done: make(chan bool, 1)}
	select {
	case v.jobs <- j:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return <-j.done, nil // a queued job always completes: stop drains the queue
}

func (v *verifier) stop() {
	close(v.jobs)
	v.batcher.Wait()
	v.running.Wait()
}
