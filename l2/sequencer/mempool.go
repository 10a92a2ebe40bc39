package sequencer

import (
	"math"
	"time"

	"github.com/pqbridge/pqbridge/l2"
)

// Mempool policy (docs/sequencer.md "Mempool"):
//   - per sender, transactions are kept by nonce; the contiguous run from the sender's state
//     nonce is executable, the rest waits for the gap to be filled, at most MaxPerSender ahead;
//   - no replacement: L2 has no fees, so nothing ranks a second transaction for the same
//     (sender, nonce) above the first, and replacing would let a sender churn the mempool and the
//     log for free. The same bytes sent again are acknowledged again (idempotent retries);
//     different bytes for a taken (sender, nonce) get nonce_taken;
//   - the sum of a sender's pending amounts never exceeds its balance, so pending transactions
//     cannot fail for balance (deposits only ever add to it);
//   - a transaction that cannot run because of a nonce gap is evicted after MaxAge.
type mempool struct {
	cfg     MempoolConfig
	senders map[uint32]*senderQueue
	byHash  map[[32]byte]*entry
	ready   int // durable transactions (an upper bound on what a block can take)
	// order holds the transactions in admission (log) order, removed ones included until the
	// next compaction. Blocks take transactions in this order, so a transaction admitted on the
	// strength of an earlier one's effect (a credit) runs after it, also when both are replayed
	// from the log after a crash.
	order []*entry
	dead  int // removed entries still in order
}

type senderQueue struct {
	base  uint64            // the sender's nonce in the state: the next nonce a block can take
	txs   map[uint64]*entry // by nonce, all >= base
	debit uint64            // sum of the amounts of txs
}

type entry struct {
	hash    [32]byte
	raw     []byte // the 160-byte record
	sig     []byte // its ML-DSA-65 signature (types 5, 6), else nil
	tx      l2.Tx
	seq     uint64 // WAL sequence number
	durable bool
	removed bool
	err     error         // why it was not made durable
	done    chan struct{} // closed when durable (or dropped: check durable)
	added   time.Time
}

// MempoolConfig bounds the mempool.
type MempoolConfig struct {
	MaxTxs       int           // all pending transactions; default 100000
	MaxPerSender int           // how far ahead of the state nonce, hence pending per sender; default 64
	MaxAge       time.Duration // a transaction stuck behind a nonce gap is evicted after it; default 1m
}

func (c *MempoolConfig) defaults() {
	if c.MaxTxs <= 0 {
		c.MaxTxs = 100_000
	}
	if c.MaxPerSender <= 0 {
		c.MaxPerSender = 64
	}
	if c.MaxAge <= 0 {
		c.MaxAge = time.Minute
	}
}

func newMempool(cfg MempoolConfig) *mempool {
	return &mempool{cfg: cfg, senders: make(map[uint32]*senderQueue), byHash: make(map[[32]byte]*entry)}
}

func (m *mempool) len() int { return len(m.byHash) }

// admit applies the mempool rules to tx, whose signature has been verified, against sender, the
// sender's account in the state, and recipient (transfer only). Balance checks are skipped for
// transactions re-admitted from the log at restart (lenient): the block decides them.
func (m *mempool) admit(e *entry, sender l2.Account, recipient *l2.Account, lenient bool) *Error {
	tx := &e.tx
	q := m.senders[tx.From]
	base := sender.Nonce
	if q != nil {
		base = q.base
	}
	if tx.Nonce < base {
		return errStatus(l2.StatusBadNonce, "nonce %d already used: the account's next nonce is %d", tx.Nonce, base)
	}
	if tx.Nonce == math.MaxUint64 {
		return errStatus(l2.StatusNonceExhausted, "nonce 2^64-1 cannot be incremented")
	}
	if q != nil {
		if old := q.txs[tx.Nonce]; old != nil {
			return newError(CodeNonceTaken, "nonce_taken", "another transaction with nonce %d from account %d is pending (hash %x); no replacement", tx.Nonce, tx.From, old.hash)
		}
	}
	if tx.Nonce-base >= uint64(m.cfg.MaxPerSender) {
		return newError(CodeNonceTooHigh, "nonce_too_high", "nonce %d is more than %d ahead of the account's next nonce %d", tx.Nonce, m.cfg.MaxPerSender, base)
	}
	if len(m.byHash) >= m.cfg.MaxTxs {
		return newError(CodeMempoolFull, "mempool_full", "%d transactions pending", len(m.byHash))
	}
	var debit uint64
	if q != nil {
		debit = q.debit
	}
	if !lenient {
		if tx.Type.IsTransfer() && recipient == nil {
			return errStatus(l2.StatusRecipientNotFound, "account %d is empty", tx.To)
		}
		if tx.Amount > sender.Balance || debit > sender.Balance-tx.Amount {
			return errStatus(l2.StatusInsufficientBalance, "amount %d, balance %d, pending debits %d", tx.Amount, sender.Balance, debit)
		}
		if tx.Type.IsTransfer() && tx.To != tx.From && recipient.Balance > math.MaxUint64-tx.Amount {
			return errStatus(l2.StatusBalanceOverflow, "account %d balance %d + %d exceeds 2^64-1", tx.To, recipient.Balance, tx.Amount)
		}
	}
	if q == nil {
		q = &senderQueue{base: base, txs: make(map[uint64]*entry)}
		m.senders[tx.From] = q
	}
	q.txs[tx.Nonce] = e
	q.debit += tx.Amount // cannot overflow: bounded by the balance, or lenient (then saturate)
	if q.debit < tx.Amount {
		q.debit = math.MaxUint64
	}
	m.byHash[e.hash] = e
	m.order = append(m.order, e)
	return nil
}

func (m *mempool) markDurable(e *entry) {
	if m.byHash[e.hash] == e && !e.durable {
		e.durable = true
		m.ready++
	}
	close(e.done)
}

// remove drops e (included, failed, evicted or not made durable).
func (m *mempool) remove(e *entry) {
	if m.byHash[e.hash] != e {
		return
	}
	delete(m.byHash, e.hash)
	if e.durable {
		m.ready--
	}
	e.removed = true
	if m.dead++; m.dead > 1024 && m.dead > len(m.order)/2 {
		live := m.order[:0]
		for _, x := range m.order {
			if !x.removed {
				live = append(live, x)
			}
		}
		clear(m.order[len(live):])
		m.order, m.dead = live, 0
	}
	q := m.senders[e.tx.From]
	delete(q.txs, e.tx.Nonce)
	if q.debit >= e.tx.Amount {
		q.debit -= e.tx.Amount
	}
	if len(q.txs) == 0 {
		delete(m.senders, e.tx.From)
	}
}

// selectReady returns up to max durable transactions that can run, in admission order: an entry
// is taken when its nonce is the next one of its sender (its base, or one past the sender's
// entry taken before it). Anything else waits for a later block.
func (m *mempool) selectReady(max int, out []*entry) []*entry {
	next := make(map[uint32]uint64)
	for _, e := range m.order {
		if len(out) >= max {
			break
		}
		if e.removed || !e.durable {
			continue
		}
		n, ok := next[e.tx.From]
		if !ok {
			n = m.senders[e.tx.From].base
		}
		if e.tx.Nonce == n {
			out = append(out, e)
			next[e.tx.From] = n + 1
		}
	}
	return out
}

// included records that e ran in a block: its sender's base moves past it.
func (m *mempool) included(e *entry) {
	if q := m.senders[e.tx.From]; q != nil && q.base <= e.tx.Nonce {
		q.base = e.tx.Nonce + 1
	}
	m.remove(e)
}

// evictable returns durable transactions stuck behind a nonce gap for longer than MaxAge.
func (m *mempool) evictable(now time.Time) []*entry {
	var out []*entry
	for _, q := range m.senders {
		for n, e := range q.txs {
			if n > q.base && q.txs[n-1] == nil && e.durable && now.Sub(e.added) > m.cfg.MaxAge {
				out = append(out, e)
			}
		}
	}
	return out
}
