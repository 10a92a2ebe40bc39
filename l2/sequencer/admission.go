package sequencer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// txPool is the admission side: the mempool, the transactions a block has taken whose receipts
// are not stored yet, and the log sequence. Its lock is taken after chainState's.
type txPool struct {
	mu   sync.Mutex
	pool *mempool
	// landing holds the transactions a block has taken from the pool whose receipts are not yet
	// stored: a resend of one of them is acknowledged, never refused as a used nonce.
	landing map[[32]byte]struct{}
	walSeq  uint64   // the next write-ahead log sequence number
	keys    sync.Map // account index -> l2.PublicKey, see pubKey
}

func newTxPool(cfg MempoolConfig) txPool {
	return txPool{pool: newMempool(cfg), landing: make(map[[32]byte]struct{})}
}

func (p *txPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pool.len()
}

// pending reports whether hash waits in the mempool.
func (p *txPool) pending(hash [32]byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pool.byHash[hash] != nil
}

// SendTransaction admits a transfer or withdraw and returns its hash once it is durable: its
// canonical 160-byte record, followed for an ML-DSA transaction (types 5 and 6) by its 3,309-byte
// signature (the interleaved form of batch data, docs/protocol.md §5.4). Its hash is the
// record's (TxHash): the record binds the signature by its digest w2. Every rejection is an
// *Error with its own code.
func (s *Sequencer) SendTransaction(ctx context.Context, raw []byte) ([32]byte, error) {
	hash, err := s.sendTransaction(ctx, raw)
	s.stats.count(err)
	return hash, err
}

func (s *Sequencer) sendTransaction(ctx context.Context, raw []byte) ([32]byte, error) {
	var hash [32]byte
	if e := s.enter(); e != nil {
		return hash, e
	}
	defer s.run.inflight.Done()
	tx, err := s.decodeSubmission(raw)
	if err != nil {
		return hash, err
	}
	hash = TxHash(raw[:l2.TxSize])
	if done, ok := s.known(hash); ok {
		return hash, done(ctx)
	}
	if e := s.overloaded(); e != nil {
		return hash, e
	}
	size := uint64(1) << s.cfg.Depth
	if uint64(tx.From) >= size || (tx.Type.IsTransfer() && uint64(tx.To) >= size) {
		return hash, errStatus(l2.StatusIndexOutOfRange, "index %d (from) or %d (to) >= 2^%d", tx.From, tx.To, s.cfg.Depth)
	}
	pk, ok, err := s.pubKey(tx.From)
	if err != nil {
		return hash, newError(CodeUnavailable, "unavailable", "%v", err)
	}
	if !ok {
		return hash, errStatus(l2.StatusSenderNotFound, "account %d is empty", tx.From)
	}
	pub, err := s.senderKey(pk, &tx)
	if err != nil {
		return hash, err
	}
	valid, err := s.verifier.verify(ctx, pk, pub, &tx)
	if err != nil {
		return hash, err
	}
	if !valid {
		return hash, errStatus(l2.StatusBadSignature, "%s signature does not verify under account %d's key for chain %d", sigKind(&tx), tx.From, s.cfg.ChainID)
	}
	e := &entry{hash: hash, raw: raw[:l2.TxSize:l2.TxSize], sig: tx.MLDSASig, tx: tx, done: make(chan struct{}), added: time.Now()}
	if done, err := s.admit(e); done != nil || err != nil {
		if err != nil {
			return hash, err
		}
		return hash, done(ctx)
	}
	werr := s.wal.append(e.seq, raw) // the record and its signature: what a restart readmits
	p := &s.txs
	p.mu.Lock()
	if werr != nil {
		p.pool.remove(e)
		e.err = newError(CodeDurability, "durability", "write-ahead log: %v", werr)
	}
	p.pool.markDurable(e)
	ready := p.pool.ready
	p.mu.Unlock()
	if werr != nil {
		return hash, e.err
	}
	if ready >= s.cfg.MaxBlockTxs {
		select {
		case s.run.kick <- struct{}{}:
		default:
		}
	}
	return hash, nil
}

// admit puts e in the mempool against the state now, with its log sequence number; or returns
// how to wait for the same bytes that raced in, or the rejection.
func (s *Sequencer) admit(e *entry) (func(context.Context) error, error) {
	tx := &e.tx
	s.chain.mu.RLock()
	defer s.chain.mu.RUnlock()
	sender, _, err := s.chain.exec.Account(tx.From)
	if err != nil {
		return nil, newError(CodeUnavailable, "unavailable", "account %d: %v", tx.From, err)
	}
	var recipient *l2.Account
	if tx.Type.IsTransfer() {
		r, ok, err := s.chain.exec.Account(tx.To)
		if err != nil {
			return nil, newError(CodeUnavailable, "unavailable", "account %d: %v", tx.To, err)
		}
		if ok {
			recipient = &r
		}
	}
	p := &s.txs
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.pool.byHash[e.hash]; old != nil { // the same bytes raced in
		return func(ctx context.Context) error { return waitDurable(ctx, old) }, nil
	}
	if _, ok := p.landing[e.hash]; ok { // taken by a block since known() looked
		return func(context.Context) error { return nil }, nil
	}
	e.seq = p.walSeq
	p.walSeq++
	if rerr := p.pool.admit(e, sender, recipient, false); rerr != nil {
		return nil, rerr
	}
	return nil, nil
}

// pubKey returns the key of account i. A key never changes once an account exists, so keys are
// cached: signature checks then never wait for a block being executed.
func (s *Sequencer) pubKey(i uint32) (l2.PublicKey, bool, error) {
	if pk, ok := s.txs.keys.Load(i); ok {
		return pk.(l2.PublicKey), true, nil
	}
	s.chain.mu.RLock()
	acc, ok, err := s.chain.exec.Account(i)
	s.chain.mu.RUnlock()
	if err != nil || !ok {
		return l2.PublicKey{}, false, err
	}
	s.txs.keys.Store(i, acc.PubKey)
	return acc.PubKey, true, nil
}

// known reports whether hash is pending or already in a block, with a function that waits until
// the pending copy is durable.
func (s *Sequencer) known(hash [32]byte) (func(context.Context) error, bool) {
	p := &s.txs
	p.mu.Lock()
	e := p.pool.byHash[hash]
	_, landing := p.landing[hash]
	p.mu.Unlock()
	if e != nil {
		return func(ctx context.Context) error { return waitDurable(ctx, e) }, true
	}
	// A landing transaction is durable (its WAL record goes in the same batch as its receipt);
	// once landing is cleared the receipt is stored.
	if landing {
		return func(context.Context) error { return nil }, true
	}
	r, err := s.db.receipt(hash)
	if err != nil {
		return func(context.Context) error {
			return newError(CodeUnavailable, "unavailable", "receipt of %x: %v", hash, err)
		}, true
	}
	if r != nil && r.Included {
		return func(context.Context) error { return nil }, true
	}
	return nil, false // unknown, or dropped or evicted: admitted again like a new transaction
}

func waitDurable(ctx context.Context, e *entry) error {
	select {
	case <-e.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.err // written before done was closed
}

// evict drops transactions stuck behind a nonce gap for longer than MaxAge: they get an
// "evicted" receipt and leave the log.
func (s *Sequencer) evict(now time.Time) {
	p := &s.txs
	p.mu.Lock()
	ev := p.pool.evictable(now)
	for _, e := range ev {
		p.pool.remove(e)
	}
	p.mu.Unlock()
	if len(ev) == 0 {
		return
	}
	b := s.db.db.NewBatch()
	head := s.Head().Number
	var errs []error
	for _, e := range ev {
		r := receipt{Block: head, Status: "evicted"}
		errs = append(errs, b.Set(rcptKey(e.hash), r.encode(), nil), b.Delete(u64Key(prefixWAL, e.seq), nil))
	}
	errs = append(errs, s.db.commit(b, pebble.NoSync), b.Close())
	if err := errors.Join(errs...); err != nil {
		s.log.Warn("eviction not stored: the evicted transactions return from the log at restart", "err", err, "count", len(ev))
	}
}

// decodeSubmission decodes what rollup_sendTransaction carries, its size checked before any
// decoding: a type 2/3 record of l2.TxSize bytes, or a type 5/6 record and its signature
// (l2.TxSize + l2.MLDSASigSize bytes), which becomes the transaction's MLDSASig.
func (s *Sequencer) decodeSubmission(raw []byte) (l2.Tx, error) {
	if len(raw) != l2.TxSize && len(raw) != l2.TxSize+l2.MLDSASigSize {
		return l2.Tx{}, newError(CodeTxSize, "tx_size", "transaction of %d bytes, want %d (a record) or %d (an ML-DSA record and its signature)",
			len(raw), l2.TxSize, l2.TxSize+l2.MLDSASigSize)
	}
	tx, err := l2.DecodeTx(raw[:l2.TxSize])
	if err != nil {
		return tx, structuralError(err)
	}
	if !tx.Type.Signed() {
		return tx, newError(CodeTypeNotAllowed, "type_not_allowed", "a %s cannot be sent: deposits and refunds come from the L1 queue", tx.Type)
	}
	if tx.Type.MLDSA() != (len(raw) > l2.TxSize) {
		if tx.Type.MLDSA() {
			return tx, newError(CodeTxSize, "tx_size", "a %s is its %d-byte record followed by its %d-byte ML-DSA-65 signature: %d bytes sent",
				tx.Type, l2.TxSize, l2.MLDSASigSize, len(raw))
		}
		return tx, newError(CodeTxSize, "tx_size", "a %s is its %d-byte record only: %d bytes sent", tx.Type, l2.TxSize, len(raw))
	}
	if tx.Type.MLDSA() {
		if s.cfg.NoMLDSA {
			return tx, newError(CodeMLDSARefused, "mldsa_refused", "a %s cannot be settled here: this rollup settles by validity proofs only, which cannot prove ML-DSA transactions", tx.Type)
		}
		tx.MLDSASig = raw[l2.TxSize:]
	}
	return tx, nil
}

// senderKey checks that the sender's key kind matches the transaction's type (docs §7.1 step 3)
// and returns, for an ML-DSA transaction, the sender's ML-DSA-65 public key (keyBook).
func (s *Sequencer) senderKey(pk l2.PublicKey, tx *l2.Tx) (*pqkey.PublicKey, error) {
	if l2.IsMLDSAKey(pk) != tx.Type.MLDSA() {
		kind := "an EdDSA"
		if l2.IsMLDSAKey(pk) {
			kind = "an ML-DSA"
		}
		return nil, errStatus(l2.StatusKeyKindMismatch, "a %s from account %d, which holds %s key", tx.Type, tx.From, kind)
	}
	if !tx.Type.MLDSA() {
		return nil, nil
	}
	pub, ok, err := s.keys.lookup(pk.Y)
	if err != nil {
		return nil, newError(CodeUnavailable, "unavailable", "%v", err)
	}
	if !ok {
		return nil, newError(CodeUnknownKey, "unknown_key", "the ML-DSA-65 key of account %d (hash %x) is not known here nor on L1", tx.From, pk.Y.Bytes())
	}
	return pub, nil
}

func sigKind(tx *l2.Tx) string {
	if tx.Type.MLDSA() {
		return "ML-DSA-65"
	}
	return "EdDSA"
}
