package l2test

import (
	"fmt"
	"math/rand/v2"

	"github.com/pqbridge/pqbridge/l2"
)

// Workload is a population of accounts and a stream of valid transfers among them. Apply
// GenesisBatches to an empty state of the workload's depth, then the TransferBatch results in
// the order they were made: every transaction has status ok (signature checks off).
type Workload struct {
	depth    int
	rng      *rand.Rand
	keys     []l2.PublicKey
	indices  []uint32 // account index of population member j
	keyOf    []uint8  // keys[keyOf[j]] is member j's key
	balances []uint64
	nonces   []uint64
}

const (
	workloadKeys = 64
	// Genesis balances are below 2^40, so 100k accounts hold far less than 2^64 in total and
	// no credit can overflow; transfers move at most 2^20.
	minGenesisBalance = 1 << 32
	maxGenesisBalance = 1 << 40
	maxTransferAmount = 1 << 20
)

// NewWorkload returns a workload of the given number of accounts at distinct random indices of
// a tree of the given depth. It panics if the tree cannot hold them.
func NewWorkload(seed uint64, depth int, accounts int) *Workload {
	if depth < l2.MinTreeDepth || depth > l2.MaxTreeDepth || accounts < 1 || uint64(accounts) > uint64(1)<<depth {
		panic(fmt.Sprintf("l2test: %d accounts in a tree of depth %d", accounts, depth))
	}
	rng := newRand(seed)
	w := &Workload{
		depth:    depth,
		rng:      rng,
		keys:     keyPool(rng, workloadKeys),
		indices:  distinctIndices(rng, depth, accounts),
		keyOf:    make([]uint8, accounts),
		balances: make([]uint64, accounts),
		nonces:   make([]uint64, accounts),
	}
	for j := range accounts {
		w.keyOf[j] = uint8(rng.IntN(workloadKeys))
		w.balances[j] = minGenesisBalance + rng.Uint64N(maxGenesisBalance-minGenesisBalance)
	}
	return w
}

// distinctIndices returns n distinct random indices below 2^depth.
func distinctIndices(rng *rand.Rand, depth, n int) []uint32 {
	size := uint64(1) << depth
	if uint64(n)*2 > size { // dense: shuffle the whole (small) range
		out := make([]uint32, size)
		for i := range out {
			out[i] = uint32(i)
		}
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:n]
	}
	seen := make(map[uint32]bool, n)
	out := make([]uint32, 0, n)
	for len(out) < n {
		i := uint32(rng.Uint64N(size))
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// Depth returns the tree depth the workload was made for.
func (w *Workload) Depth() int { return w.depth }

// Accounts returns the number of accounts the genesis creates.
func (w *Workload) Accounts() int { return len(w.indices) }

// GenesisBatches returns deposit batches of at most l2.MaxBatchTxs records creating every
// account with its genesis balance.
func (w *Workload) GenesisBatches() [][]byte {
	var batches [][]byte
	for start := 0; start < len(w.indices); start += l2.MaxBatchTxs {
		end := min(start+l2.MaxBatchTxs, len(w.indices))
		data := make([]byte, 0, (end-start)*l2.TxSize)
		for j := start; j < end; j++ {
			tx := l2.Tx{Type: l2.TxDeposit, From: w.indices[j], Amount: w.balances[j], PubKey: w.keys[w.keyOf[j]]}
			data = l2.AppendTx(data, &tx)
		}
		batches = append(batches, data)
	}
	return batches
}

// TransferBatch returns a batch of n transfers (1 <= n <= l2.MaxBatchTxs) that all succeed
// after the genesis and the previous TransferBatch results: random sender and recipient
// (sometimes the same account), the sender's next nonce, an amount within its balance.
func (w *Workload) TransferBatch(n int) []byte {
	if n < 1 || n > l2.MaxBatchTxs {
		panic(fmt.Sprintf("l2test: TransferBatch(%d)", n))
	}
	data := make([]byte, 0, n*l2.TxSize)
	for range n {
		from, to := w.rng.IntN(len(w.indices)), w.rng.IntN(len(w.indices))
		amount := w.rng.Uint64N(min(w.balances[from], maxTransferAmount) + 1)
		tx := l2.Tx{Type: l2.TxTransfer, From: w.indices[from], To: w.indices[to], Amount: amount, Nonce: w.nonces[from]}
		w.balances[from] -= amount
		w.nonces[from]++
		w.balances[to] += amount
		data = l2.AppendTx(data, &tx)
	}
	return data
}
