package sequencer

import (
	"context"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// verifier checks signatures (docs/protocol.md §6) before admission; the core does not.
// ML-DSA-65 jobs (types 5 and 6) share the queue and the workers: the batcher computes their
// signed messages the same way (txchallenge.Hasher.Messages: 2 calls per batch), and a worker
// verifies each ML-DSA job of its share on its own (l2.VerifyMLDSAMessage, circl, under the key
// book's parsed key), the EdDSA ones with the batch equation.
// A batcher goroutine takes every job waiting (up to maxVerifyBatch) and computes their
// challenges c = H(R.x, R.y, pk.x, pk.y, H(TAG_TX, chain_id, w0, w1)) all at once with the
// native core's batched Poseidon2 (txchallenge: 5 calls per batch, never one per transaction);
// the batch is then shared among GOMAXPROCS workers, each of which checks its share with one
// batch equation (l2.VerifyTxBatch, falling back to l2.VerifyTxChallenge per signature when the
// share holds an invalid one) while the batcher hashes the next batch.
type verifier struct {
	chainID uint64
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
	pub  *pqkey.PublicKey // the ML-DSA-65 public key of an ML-DSA job
	tx   *l2.Tx
	c    fr.Element // the challenge (EdDSA), or the signed message (ML-DSA)
	done chan bool
}

func newVerifier(chainID uint64, workers int) *verifier {
	v := &verifier{chainID: chainID, workers: workers, jobs: make(chan *verifyJob, maxVerifyBatch), curve: make(chan []*verifyJob)}
	v.batcher.Add(1)
	go v.batch()
	v.running.Add(workers)
	for range workers {
		go func() {
			defer v.running.Done()
			var results []bool
			var checks []l2.SignatureCheck
			var eddsa []*verifyJob
			for share := range v.curve {
				checks, eddsa = checks[:0], eddsa[:0]
				for _, j := range share {
					if j.tx.Type.MLDSA() {
						j.done <- l2.VerifyMLDSAMessage(j.pub, v.chainID, j.tx, j.c, j.tx.MLDSASig) == nil
						continue
					}
					checks = append(checks, l2.SignatureCheck{PubKey: j.pk, Tx: j.tx, Challenge: j.c})
					eddsa = append(eddsa, j)
				}
				results = append(results[:0], make([]bool, len(checks))...)
				l2.VerifyTxBatch(checks, results)
				for i, j := range eddsa {
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
	h := txchallenge.NewHasher(v.chainID)
	var hb hashBufs
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
		hb.hash(h, batch)
		// One share per worker; each share is batch-verified (l2.VerifyTxBatch).
		per := (len(batch) + v.workers - 1) / v.workers
		for start := 0; start < len(batch); start += per {
			v.curve <- append([]*verifyJob(nil), batch[start:min(start+per, len(batch))]...)
		}
	}
}

// hashBufs are the batcher's buffers, reused from batch to batch: the workers build their own
// from their share.
type hashBufs struct {
	checks []l2.SignatureCheck
	txs    []*l2.Tx
	msgs   []fr.Element
}

// hash sets j.c for every job with batched computations in the core: the challenge of each
// EdDSA job (txchallenge.Hasher.Fill), the signed message of each ML-DSA one
// (txchallenge.Hasher.Messages).
func (b *hashBufs) hash(h *txchallenge.Hasher, jobs []*verifyJob) {
	b.checks, b.txs = b.checks[:0], b.txs[:0]
	for _, j := range jobs {
		if j.tx.Type.MLDSA() {
			b.txs = append(b.txs, j.tx)
		} else {
			b.checks = append(b.checks, l2.SignatureCheck{PubKey: j.pk, Tx: j.tx})
		}
	}
	h.Fill(b.checks)
	b.msgs = append(b.msgs[:0], make([]fr.Element, len(b.txs))...)
	h.Messages(b.txs, b.msgs)
	e, m := 0, 0
	for _, j := range jobs {
		if j.tx.Type.MLDSA() {
			j.c = b.msgs[m]
			m++
		} else {
			j.c = b.checks[e].Challenge
			e++
		}
	}
}

// verify reports whether tx carries a valid signature under pk: EdDSA for types 2 and 3; for
// types 5 and 6, ML-DSA-65 under pub (the key book's, of hash pk.y) of tx.MLDSASig.
func (v *verifier) verify(ctx context.Context, pk l2.PublicKey, pub *pqkey.PublicKey, tx *l2.Tx) (bool, error) {
	j := &verifyJob{pk: pk, pub: pub, tx: tx, done: make(chan bool, 1)}
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
