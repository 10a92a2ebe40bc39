package challenger

import (
	"runtime"
	"sync"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/l2"
)

// signatureChecks returns the signature checks of the transfers and withdraws of txs: the
// EdDSA ones (types 2 and 3), then the ML-DSA ones (types 5 and 6), and the positions of both in
// that order, each under its sender's key at its step, found without executing anything: a key
// is set by the deposit that creates its account and never changes (docs §7), so it is the key
// of the account before the batch (pre: the witnesses of every account the batch touches), or
// else the key of the batch's first deposit to that index before the step. A sender with
// neither does not exist at its step, which then fails whatever the check says; a sender of
// the other kind fails at key_kind_mismatch. An ML-DSA sender's key comes from keys; an unknown
// one fails the check (and fraud.BuildFrom then says it is unknown).
func signatureChecks(txs []l2.Tx, pre []ffi.Witness, keys l2.KeyBook) ([]l2.SignatureCheck, []mldsaCheck, []int) {
	pks := make(map[uint32]l2.PublicKey, len(pre))
	for _, w := range pre {
		if w.Exists {
			var pk l2.PublicKey
			pk.X.SetBytes(w.PubKeyX[:]) // canonical: from the core
			pk.Y.SetBytes(w.PubKeyY[:])
			pks[w.Index] = pk
		}
	}
	var (
		checks    []l2.SignatureCheck
		mldsa     []mldsaCheck
		positions []int
		mpos      []int
	)
	for k := range txs {
		tx := &txs[k]
		switch tx.Type {
		case l2.TxDeposit:
			if _, ok := pks[tx.From]; !ok {
				pks[tx.From] = tx.PubKey // an index outside the tree is never a sender's
			}
		case l2.TxTransfer, l2.TxWithdraw:
			if pk, ok := pks[tx.From]; ok && !l2.IsMLDSAKey(pk) {
				checks, positions = append(checks, l2.SignatureCheck{PubKey: pk, Tx: tx}), append(positions, k)
			}
		case l2.TxTransferMLDSA, l2.TxWithdrawMLDSA:
			if pk, ok := pks[tx.From]; ok && l2.IsMLDSAKey(pk) {
				m := mldsaCheck{tx: tx}
				if keys != nil {
					m.pub, _ = keys.MLDSAKey(pk.Y)
				}
				if kh := l2.MLDSAKeyHash(m.pub); !kh.Equal(&pk.Y) {
					m.pub = nil
				}
				mldsa, mpos = append(mldsa, m), append(mpos, k)
			}
		}
	}
	return checks, mldsa, append(positions, mpos...)
}

// mldsaCheck is the ML-DSA signature check of a type 5/6 transaction under its sender's key pub
// (nil: unknown, the check fails).
type mldsaCheck struct {
	tx  *l2.Tx
	pub []byte
}

// verifySignatures checks signatures and returns the result of each, the EdDSA checks first,
// then the ML-DSA ones: it computes the EdDSA challenges with h, all at once, then checks them in
// one share per CPU, each with one batch equation (l2.VerifyTxBatch), and the ML-DSA ones
// (l2.VerifyMLDSA, under the L2 chain ID) in shares per CPU too.
func verifySignatures(h *txchallenge.Hasher, chainID uint64, checks []l2.SignatureCheck, mldsa []mldsaCheck) []bool {
	h.Fill(checks)
	results := make([]bool, len(checks)+len(mldsa))
	per := max((len(checks)+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0), minSignatureShare)
	var wg sync.WaitGroup
	for start := 0; start < len(checks); start += per {
		share, res := checks[start:min(start+per, len(checks))], results[start:min(start+per, len(checks))]
		wg.Go(func() { l2.VerifyTxBatch(share, res) })
	}
	mres := results[len(checks):]
	mper := max((len(mldsa)+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0), 1)
	for start := 0; start < len(mldsa); start += mper {
		share, res := mldsa[start:min(start+mper, len(mldsa))], mres[start:min(start+mper, len(mldsa))]
		wg.Go(func() {
			for i := range share {
				res[i] = share[i].pub != nil && l2.VerifyMLDSA(share[i].pub, chainID, share[i].tx, share[i].tx.MLDSASig) == nil
			}
		})
	}
	wg.Wait()
	return results
}

// minSignatureShare is the smallest share of signatures given a goroutine of its own: below it
// the batch equation saves little and the goroutine costs more than it parallelises.
const minSignatureShare = 16
