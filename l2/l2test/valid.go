package l2test

import (
	"math/big"
	"math/rand/v2"

	"github.com/pqbridge/pqbridge/l2"
)

// ValidBatches makes random batches that a correct sequencer could post: every transaction has
// status ok with signature checks on (docs §8: a batch on L1 holds only such transactions). It
// mixes deposits (creating accounts or crediting them with their own key), signed transfers
// (sometimes to oneself or of 0) and withdraws (sometimes of the whole balance), and no-ops,
// concentrated on a few indices, the edges of the tree included. Some signatures carry a nonce
// point with a small-order component, valid by the cofactored rule of docs §6. Deposit amounts
// stay below 2^40, so no credit of a realistic run overflows.
type ValidBatches struct {
	depth   int
	chainID uint64
	rng     *rand.Rand
	signers []*Signer
	hot     []uint32
	shadow  map[uint32]shadowAccount // key is the signer's position in signers
}

const validSigners = 4

// NewValidBatches returns a generator for a state of the given depth that starts empty, signing
// for chainID.
func NewValidBatches(seed uint64, depth int, chainID uint64) *ValidBatches {
	if depth < l2.MinTreeDepth || depth > l2.MaxTreeDepth {
		panic("l2test: depth outside the limits")
	}
	rng := newRand(seed)
	v := &ValidBatches{depth: depth, chainID: chainID, rng: rng, shadow: make(map[uint32]shadowAccount)}
	for range validSigners {
		v.signers = append(v.signers, NewSigner(new(big.Int).SetUint64(rng.Uint64()|1)))
	}
	size := uint64(1) << depth
	v.hot = append(v.hot, 0, uint32(size-1))
	for len(v.hot) < hotIndices && uint64(len(v.hot)) < size {
		v.hot = append(v.hot, uint32(rng.Uint64N(size)))
	}
	return v
}

// Next returns a batch of 1 to maxTxs transactions (maxTxs at most l2.MaxBatchTxs), each valid
// after the previous ones and the batches Next returned before.
func (v *ValidBatches) Next(maxTxs int) []byte {
	maxTxs = min(max(maxTxs, 1), l2.MaxBatchTxs)
	n := 1 + v.rng.IntN(maxTxs)
	data := make([]byte, 0, n*l2.TxSize)
	for range n {
		tx := v.next()
		data = l2.AppendTx(data, &tx)
	}
	return data
}

func (v *ValidBatches) next() l2.Tx {
	var senders []uint32
	for _, i := range v.hot {
		if _, ok := v.shadow[i]; ok {
			senders = append(senders, i)
		}
	}
	k := v.rng.IntN(20)
	if len(senders) == 0 && k >= 1 {
		k = 1 // nothing to spend yet: deposit
	}
	switch {
	case k < 1:
		return l2.Tx{Type: l2.TxNoop}
	case k < 6:
		i := v.hot[v.rng.IntN(len(v.hot))]
		a, ok := v.shadow[i]
		if !ok {
			a.key = v.rng.IntN(len(v.signers))
		}
		amount := v.rng.Uint64N(1 << 40)
		a.balance += amount
		v.shadow[i] = a
		return l2.Tx{Type: l2.TxDeposit, From: i, Amount: amount, PubKey: v.signers[a.key].Public()}
	case k < 15:
		from, to := senders[v.rng.IntN(len(senders))], senders[v.rng.IntN(len(senders))]
		if v.rng.IntN(8) == 0 {
			to = from
		}
		s := v.shadow[from]
		tx := l2.Tx{Type: l2.TxTransfer, From: from, To: to, Nonce: s.nonce, Amount: v.amount(s.balance)}
		s.balance -= tx.Amount
		s.nonce++
		v.shadow[from] = s
		r := v.shadow[to]
		r.balance += tx.Amount
		v.shadow[to] = r
		v.sign(s.key, &tx)
		return tx
	default:
		from := senders[v.rng.IntN(len(senders))]
		s := v.shadow[from]
		tx := l2.Tx{Type: l2.TxWithdraw, From: from, Nonce: s.nonce, Amount: v.amount(s.balance)}
		for j := range tx.Address {
			tx.Address[j] = byte(v.rng.Uint32())
		}
		s.balance -= tx.Amount
		s.nonce++
		v.shadow[from] = s
		v.sign(s.key, &tx)
		return tx
	}
}

// amount is within balance: mostly small, sometimes 0 or all of it.
func (v *ValidBatches) amount(balance uint64) uint64 {
	switch v.rng.IntN(10) {
	case 0:
		return 0
	case 1:
		return balance
	}
	return v.rng.Uint64N(min(balance, 1<<30) + 1)
}

// sign signs tx with signer key; one signature in eight has a nonce point with a torsion
// component.
func (v *ValidBatches) sign(key int, tx *l2.Tx) {
	torsion := TorsionPoint(1)
	if v.rng.IntN(8) == 0 {
		torsion = TorsionPoint(8)
	}
	v.signers[key].Sign(v.chainID, tx, torsion)
}
