package l2test

import (
	"math"
	"math/rand/v2"

	"github.com/pqbridge/pqbridge/l2"
)

// RandomBatches makes structurally valid batches that mix successful and failing transactions
// of every kind: each status code except bad_signature (signatures are zero) and
// nonce_exhausted (no sequence of transactions reaches nonce 2^64-1). A shadow model of the
// accounts aims transactions at interesting cases (a deposit with another key into an occupied
// index, credits near 2^64-1, stale nonces, self-transfers, indices at and beyond the edge of
// the tree); the expected results are whatever the reference computes, not the shadow.
type RandomBatches struct {
	depth  int
	mldsa  bool // NewMixedRandomBatches: ML-DSA keys and types 5 and 6 too
	rng    *rand.Rand
	keys   []l2.PublicKey
	hot    []uint32 // a small set of indices the transactions concentrate on
	shadow map[uint32]shadowAccount
}

type shadowAccount struct {
	key            int
	balance, nonce uint64
}

const (
	randomKeys      = 4
	randomMLDSAKeys = 2
	hotIndices      = 48
)

// NewRandomBatches returns a generator for a state of the given depth that starts empty.
func NewRandomBatches(seed uint64, depth int) *RandomBatches {
	if depth < l2.MinTreeDepth || depth > l2.MaxTreeDepth {
		panic("l2test: depth outside the limits")
	}
	rng := newRand(seed)
	r := &RandomBatches{depth: depth, rng: rng, keys: keyPool(rng, randomKeys), shadow: make(map[uint32]shadowAccount)}
	size := uint64(1) << depth
	r.hot = append(r.hot, 0, uint32(size-1))
	for len(r.hot) < hotIndices && uint64(len(r.hot)) < size {
		r.hot = append(r.hot, uint32(rng.Uint64N(size)))
	}
	return r
}

// NewMixedRandomBatches is NewRandomBatches whose key pool also holds ML-DSA account keys
// (0, kh) and whose transfers and withdraws are also of types 5 and 6: mostly of the sender's
// kind, sometimes of the other (key_kind_mismatch). Its batches are the records only (docs
// §5.4: what the core reads) and their ML-DSA signatures do not exist: apply them without
// signature checks.
func NewMixedRandomBatches(seed uint64, depth int) *RandomBatches {
	r := NewRandomBatches(seed, depth)
	r.mldsa = true
	for range randomMLDSAKeys {
		var pub [l2.MLDSAPubSize]byte
		for j := range pub {
			pub[j] = byte(r.rng.Uint32())
		}
		r.keys = append(r.keys, l2.MLDSAPublicKey(pub[:]))
	}
	return r
}

// Next returns a batch of 1 to maxTxs transactions (maxTxs at most l2.MaxBatchTxs).
func (r *RandomBatches) Next(maxTxs int) []byte {
	maxTxs = min(max(maxTxs, 1), l2.MaxBatchTxs)
	n := 1 + r.rng.IntN(maxTxs)
	data := make([]byte, 0, n*l2.TxSize)
	for range n {
		tx := r.next()
		r.apply(&tx)
		data = l2.AppendTx(data, &tx)
	}
	return data
}

// index returns a hot index most of the time, otherwise any u32: beyond 2^depth it is out of
// range, unless the depth is 32.
func (r *RandomBatches) index() uint32 {
	switch x := r.rng.IntN(16); {
	case x < 13:
		return r.hot[r.rng.IntN(len(r.hot))]
	case x < 15 && r.depth < 32:
		return uint32(uint64(1)<<r.depth + r.rng.Uint64N(uint64(math.MaxUint32)-uint64(1)<<r.depth+1))
	default:
		return r.rng.Uint32() & uint32(uint64(1)<<r.depth-1)
	}
}

// existing returns an occupied index, or a random one while the state is empty.
func (r *RandomBatches) existing() uint32 {
	for range 8 {
		if i := r.hot[r.rng.IntN(len(r.hot))]; r.has(i) {
			return i
		}
	}
	return r.index()
}

func (r *RandomBatches) has(i uint32) bool {
	_, ok := r.shadow[i]
	return ok
}

// amount is small, or occasionally close to 2^64-1 so that credits overflow.
func (r *RandomBatches) amount(limit uint64) uint64 {
	switch r.rng.IntN(10) {
	case 0:
		return math.MaxUint64 - r.rng.Uint64N(1<<20)
	case 1:
		return 0
	case 2, 3:
		return limit // exactly the balance, or 0
	default:
		return r.rng.Uint64N(min(limit, 1<<30) + 1)
	}
}

func (r *RandomBatches) next() l2.Tx {
	switch k := r.rng.IntN(20); {
	case k < 1:
		return l2.Tx{Type: l2.TxNoop}
	case k < 7:
		i := r.index()
		key := r.rng.IntN(len(r.keys))
		if a, ok := r.shadow[i]; ok && r.rng.IntN(4) != 0 {
			key = a.key // mostly credit with the right key; otherwise pubkey_mismatch
		}
		amount := r.rng.Uint64N(1 << 40)
		if r.rng.IntN(6) == 0 {
			amount = math.MaxUint64 - r.rng.Uint64N(1<<41) // large balances, then overflows
		}
		return l2.Tx{Type: l2.TxDeposit, From: i, Amount: amount, PubKey: r.keys[key]}
	case k < 16:
		from, to := r.existing(), r.existing()
		switch r.rng.IntN(8) {
		case 0:
			from = r.index()
		case 1:
			to = r.index()
		case 2:
			to = from
		}
		a := r.shadow[from]
		tx := l2.Tx{Type: l2.TxTransfer, From: from, To: to, Nonce: r.nonce(a), Amount: r.amount(a.balance)}
		r.kind(&tx, a)
		return tx
	default:
		from := r.existing()
		if r.rng.IntN(8) == 0 {
			from = r.index()
		}
		a := r.shadow[from]
		var addr [20]byte
		for j := range addr {
			addr[j] = byte(r.rng.Uint32())
		}
		tx := l2.Tx{Type: l2.TxWithdraw, From: from, Nonce: r.nonce(a), Amount: r.amount(a.balance), Address: addr}
		r.kind(&tx, a)
		return tx
	}
}

// kind makes a transfer or withdraw of a mixed generator of the sender's key kind, one time in
// eight of the other kind. Type 5/6 records carry a made-up signature digest in w2.
func (r *RandomBatches) kind(tx *l2.Tx, sender shadowAccount) {
	if !r.mldsa {
		return
	}
	pq := l2.IsMLDSAKey(r.keys[sender.key])
	if r.rng.IntN(8) == 0 {
		pq = !pq
	}
	if !pq {
		return
	}
	if tx.Type == l2.TxTransfer {
		tx.Type = l2.TxTransferMLDSA
	} else {
		tx.Type = l2.TxWithdrawMLDSA
	}
	tx.SigDigest.SetUint64(r.rng.Uint64())
}

// nonce is mostly the expected one, sometimes stale or ahead.
func (r *RandomBatches) nonce(a shadowAccount) uint64 {
	switch r.rng.IntN(12) {
	case 0:
		return a.nonce + 1
	case 1:
		return a.nonce - 1 // wraps to 2^64-1 for a fresh account
	}
	return a.nonce
}

// apply mirrors docs §7 without hashing or signatures, so that later transactions are aimed
// at the state the reference will actually be in.
func (r *RandomBatches) apply(tx *l2.Tx) {
	size := uint64(1) << r.depth
	switch tx.Type {
	case l2.TxDeposit:
		if uint64(tx.From) >= size {
			return
		}
		key := 0
		for j := range r.keys {
			if r.keys[j] == tx.PubKey {
				key = j
			}
		}
		a, ok := r.shadow[tx.From]
		switch {
		case !ok:
			r.shadow[tx.From] = shadowAccount{key: key, balance: tx.Amount}
		case a.key == key && a.balance <= math.MaxUint64-tx.Amount:
			a.balance += tx.Amount
			r.shadow[tx.From] = a
		}
	case l2.TxTransfer, l2.TxWithdraw, l2.TxTransferMLDSA, l2.TxWithdrawMLDSA:
		if uint64(tx.From) >= size || (tx.Type.IsTransfer() && uint64(tx.To) >= size) {
			return
		}
		s, ok := r.shadow[tx.From]
		if !ok || l2.IsMLDSAKey(r.keys[s.key]) != tx.Type.MLDSA() {
			return
		}
		if tx.Nonce != s.nonce || s.nonce == math.MaxUint64 || tx.Amount > s.balance {
			return
		}
		if tx.Type.IsWithdraw() {
			s.balance -= tx.Amount
			s.nonce++
			r.shadow[tx.From] = s
			return
		}
		t, ok := r.shadow[tx.To]
		if !ok || (tx.To != tx.From && t.balance > math.MaxUint64-tx.Amount) {
			return
		}
		s.balance -= tx.Amount
		s.nonce++
		r.shadow[tx.From] = s
		t = r.shadow[tx.To]
		t.balance += tx.Amount
		r.shadow[tx.To] = t
	}
}
