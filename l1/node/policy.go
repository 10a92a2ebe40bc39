package node

import (
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

// Defaults of the mempool policy (docs/l1.md §6.1; Config fields left zero).
const (
	// DefaultMaxSenderPending bounds one sender's transactions in the mempool: a burst of a
	// busy sequencer or wallet fits, one key cannot fill the pool.
	DefaultMaxSenderPending = 64
	// DefaultMaxNonceGap bounds how far past the first nonce its sender is missing (the
	// confirmed nonce, then its run of pending ones) a transaction may be: transactions that
	// cannot be included until a withheld nonce arrives cost memory and pay nothing.
	DefaultMaxNonceGap = 16
	// RollupReserveDiv reserves 1/RollupReserveDiv of the mempool's slots and bytes for rollup
	// operations (deposits, batches, challenges, claims, ...): transfers and registrations
	// alone can never fill it.
	RollupReserveDiv = 8
)

var (
	ErrNonceTooLow  = l1api.ErrNonceTooLow
	ErrNonceTooHigh = l1api.ErrNonceTooHigh
	ErrNonceTaken   = l1api.ErrNonceTaken
	ErrSenderCap    = l1api.ErrSenderCap
	ErrNoBalance    = l1api.ErrNoBalance
	ErrCannotPay    = l1api.ErrCannotPay
)

// refusalReasons label the refusal metric (MempoolStats.Refused), in the order reasonOf
// matches them; "invalid" is every envelope error.
var refusalReasons = []struct {
	label string
	err   error
}{
	{"nonce_too_low", ErrNonceTooLow}, {"nonce_too_high", ErrNonceTooHigh}, {"nonce_taken", ErrNonceTaken},
	{"sender_cap", ErrSenderCap}, {"no_balance", ErrNoBalance}, {"cannot_pay", ErrCannotPay},
	{"full", ErrMempoolFull}, {"known", ErrKnownTx}, {"too_large", chain.ErrTxTooLarge},
}

func reasonOf(err error) string {
	for _, r := range refusalReasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "invalid"
}

// MempoolStats counts the mempool's refusals by reason and its evictions since start.
type MempoolStats struct {
	Refused map[string]uint64
	Evicted uint64
}

// MempoolStats returns the refusal and eviction counters.
func (n *Node) MempoolStats() MempoolStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return MempoolStats{Refused: maps.Clone(n.refused), Evicted: n.evicted}
}

type poolTx struct {
	seq      uint64
	raw      []byte
	hash     common.Hash
	sender   common.Address
	nonce    uint64
	fee      uint64
	cost     uint64 // fee + value: what the sender's balance must cover
	rollupOp bool
	inflight bool // reserved, its log write not yet synced: not in a block, not evicted
}

// senderTxs are one sender's pending transactions, by nonce.
type senderTxs struct {
	confirmed uint64    // the account nonce when last read
	txs       []*poolTx // sorted by nonce, one per nonce
	cost      uint64    // sum of their costs
}

// future reports whether the sender's last transaction waits for a missing nonce.
func (s *senderTxs) future() bool {
	return s.txs[len(s.txs)-1].nonce != s.confirmed+uint64(len(s.txs))-1
}

// newPoolTx prices a decoded transaction under the chain's fees.
func (n *Node) newPoolTx(tx *chain.DecodedTx, raw []byte) (*poolTx, error) {
	fee, err := n.chain.Fees().TxFee(tx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotPay, err)
	}
	cost, carry := bits.Add64(fee, tx.Value(), 0)
	if carry != 0 {
		return nil, fmt.Errorf("%w: fee %d plus value %d overflow", ErrCannotPay, fee, tx.Value())
	}
	return &poolTx{raw: raw, hash: tx.Hash, sender: tx.Sender, nonce: tx.Nonce, fee: fee, cost: cost,
		rollupOp: tx.IsRollupOp()}, nil
}

// admit applies the policy to p, whose sender's committed account is acct, and returns the
// transactions p evicts to make room. mu held; nothing is changed.
func (n *Node) admit(p *poolTx, acct chain.Account) ([]*poolTx, error) {
	s := n.senders[p.sender]
	var run, pending uint64 // the sender's contiguous pending run from the confirmed nonce, its costs
	if s != nil {
		for _, q := range s.txs {
			if q.nonce == p.nonce {
				return nil, fmt.Errorf("%w: %s nonce %d", ErrNonceTaken, p.sender, p.nonce)
			}
			if q.nonce == acct.Nonce+run {
				run++
			}
		}
		pending = s.cost
		if len(s.txs) >= n.cfg.MaxSenderPending {
			return nil, fmt.Errorf("%w: %s has %d", ErrSenderCap, p.sender, len(s.txs))
		}
	}
	switch {
	case p.nonce < acct.Nonce:
		return nil, fmt.Errorf("%w: %s is at nonce %d, transaction %d", ErrNonceTooLow, p.sender, acct.Nonce, p.nonce)
	case p.nonce-acct.Nonce-run > uint64(n.cfg.MaxNonceGap):
		return nil, fmt.Errorf("%w: %s misses nonce %d, transaction %d (at most %d ahead)", ErrNonceTooHigh,
			p.sender, acct.Nonce+run, p.nonce, n.cfg.MaxNonceGap)
	case acct.Balance == 0 && !n.chain.Fees().IsZero():
		return nil, fmt.Errorf("%w: %s", ErrNoBalance, p.sender)
	case pending+p.cost < pending || pending+p.cost > acct.Balance:
		return nil, fmt.Errorf("%w: %s has %d, pending %d, this transaction %d", ErrCannotPay, p.sender,
			acct.Balance, pending, p.cost)
	}
	return n.makeRoom(p, p.nonce > acct.Nonce+run)
}

// makeRoom picks the transactions to evict so that p fits: a rollup operation may use the
// whole pool, anything else all but the reserve. The victim is always a sender's last
// transaction (evicting it leaves no gap), the worst first: waiting for a missing nonce, then
// the lowest fee per byte, then the oldest. p (future if it waits for a missing nonce itself)
// must outrank each victim.
func (n *Node) makeRoom(p *poolTx, future bool) ([]*poolTx, error) {
	maxTxs, maxBytes := n.cfg.MaxMempoolTxs, n.cfg.MaxMempoolBytes
	genTxs, genBytes := maxTxs-maxTxs/RollupReserveDiv, maxBytes-maxBytes/RollupReserveDiv
	var victims []*poolTx
	var vTxs, vBytes, vGenTxs, vGenBytes int // what the victims free
	full := func() bool {
		if n.poolTxs-vTxs+1 > maxTxs || n.poolBytes-vBytes+len(p.raw) > maxBytes {
			return true
		}
		return !p.rollupOp && (n.generalTxs-vGenTxs+1 > genTxs || n.generalBytes-vGenBytes+len(p.raw) > genBytes)
	}
	taken := map[common.Address]int{} // victims per sender
	for full() {
		v := n.worst(taken, !p.rollupOp)
		if v == nil || !outranks(p, future, v, n.senders[v.sender].future()) {
			return nil, fmt.Errorf("%w: %d transactions, %d bytes; nothing ranks below this one", ErrMempoolFull,
				n.poolTxs, n.poolBytes)
		}
		victims = append(victims, v)
		taken[v.sender]++
		vTxs, vBytes = vTxs+1, vBytes+len(v.raw)
		if !v.rollupOp {
			vGenTxs, vGenBytes = vGenTxs+1, vGenBytes+len(v.raw)
		}
	}
	return victims, nil
}

// worst is the eviction candidate ranking lowest: each sender's last transaction not yet
// taken, general ones only if onlyGeneral.
func (n *Node) worst(taken map[common.Address]int, onlyGeneral bool) *poolTx {
	var w *poolTx
	var wFuture bool
	for _, s := range n.senders {
		i := len(s.txs) - 1 - taken[s.txs[0].sender]
		if i < 0 {
			continue
		}
		c := s.txs[i]
		if c.inflight || onlyGeneral && c.rollupOp {
			continue
		}
		future := s.future()
		if w == nil || ranksBelow(c, future, w, wFuture) {
			w, wFuture = c, future
		}
	}
	return w
}

// ranksBelow orders eviction candidates: a general one before a rollup operation, one waiting
// for a nonce before an executable one, a lower fee per byte, an older one.
func ranksBelow(a *poolTx, aFuture bool, b *poolTx, bFuture bool) bool {
	if a.rollupOp != b.rollupOp {
		return !a.rollupOp
	}
	if aFuture != bFuture {
		return aFuture
	}
	if c := cmpRate(a, b); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// outranks reports whether p may evict v: a rollup operation evicts anything else, an
// executable transaction one waiting for a nonce, and otherwise only a higher fee per byte
// evicts (junk does not churn junk).
func outranks(p *poolTx, pFuture bool, v *poolTx, vFuture bool) bool {
	if p.rollupOp != v.rollupOp {
		return p.rollupOp
	}
	if pFuture != vFuture {
		return vFuture
	}
	return cmpRate(p, v) > 0
}

// cmpRate compares the fees per byte of a and b.
func cmpRate(a, b *poolTx) int {
	ah, al := bits.Mul64(a.fee, uint64(len(b.raw)))
	bh, bl := bits.Mul64(b.fee, uint64(len(a.raw)))
	if ah != bh {
		return cmpU64(ah, bh)
	}
	return cmpU64(al, bl)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// insert adds p to the pool's accounting (the FIFO is appended to once its log write is in).
// mu held.
func (n *Node) insert(p *poolTx, confirmed uint64) {
	s := n.senders[p.sender]
	if s == nil {
		s = &senderTxs{}
		n.senders[p.sender] = s
	}
	s.confirmed = confirmed
	i, _ := slices.BinarySearchFunc(s.txs, p.nonce, func(q *poolTx, nonce uint64) int { return cmpU64(q.nonce, nonce) })
	s.txs = slices.Insert(s.txs, i, p)
	s.cost += p.cost
	n.known[p.hash] = true
	n.poolTxs++
	n.poolBytes += len(p.raw)
	if !p.rollupOp {
		n.generalTxs++
		n.generalBytes += len(p.raw)
	}
}

// remove takes p out of the pool's accounting and the FIFO. mu held.
func (n *Node) remove(p *poolTx) {
	if !n.unaccount(p) {
		return
	}
	if j := slices.Index(n.pool, p); j >= 0 {
		n.pool = slices.Delete(n.pool, j, j+1)
	}
}

// unaccount takes p out of the pool's accounting (not the FIFO) and reports whether it was
// there. mu held.
func (n *Node) unaccount(p *poolTx) bool {
	s := n.senders[p.sender]
	if s == nil {
		return false
	}
	i := slices.Index(s.txs, p)
	if i < 0 {
		return false
	}
	s.txs = slices.Delete(s.txs, i, i+1)
	s.cost -= p.cost
	if len(s.txs) == 0 {
		delete(n.senders, p.sender)
	}
	delete(n.known, p.hash)
	n.poolTxs--
	n.poolBytes -= len(p.raw)
	if !p.rollupOp {
		n.generalTxs--
		n.generalBytes -= len(p.raw)
	}
	return true
}
