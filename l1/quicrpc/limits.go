package quicrpc

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// tokenBucket is a requests-per-second limiter: rate tokens a second, at most burst saved.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

func (b *tokenBucket) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// full reports whether the bucket has refilled to its burst: it then decides like a new one.
func (b *tokenBucket) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens+time.Since(b.last).Seconds()*b.rate >= b.burst
}

// replayWindowSize is how far out of order a sender's requests on one connection may arrive:
// above the number of streams a client keeps in flight (MaxConcurrentStreams, default 64) so that
// concurrent calls never reject each other.
const replayWindowSize = 256

// replayWindow accepts each nonce at most once: nonces above the highest seen, or at most
// replayWindowSize below it and not seen yet (RFC 4303's anti-replay window).
type replayWindow struct {
	highest uint64
	seen    [replayWindowSize / 64]uint64 // bit n%replayWindowSize for nonce n
}

func (w *replayWindow) bit(n uint64) (word int, mask uint64) {
	i := n % replayWindowSize
	return int(i / 64), 1 << (i % 64)
}

func (w *replayWindow) accept(n uint64) bool {
	if n == 0 {
		return false // nonces start at 1; 0 is the zero value of an unset field
	}
	if n > w.highest {
		if n-w.highest >= replayWindowSize {
			w.seen = [replayWindowSize / 64]uint64{}
		} else {
			for m := w.highest + 1; m < n; m++ { // the slots now meaning nonces in (highest, n)
				word, mask := w.bit(m)
				w.seen[word] &^= mask
			}
		}
		w.highest = n
		word, mask := w.bit(n)
		w.seen[word] |= mask
		return true
	}
	if w.highest-n >= replayWindowSize {
		return false
	}
	word, mask := w.bit(n)
	if w.seen[word]&mask != 0 {
		return false
	}
	w.seen[word] |= mask
	return true
}

// keyCache is a bounded LRU of parsed sender keys, keyed by the SHA-256 of their encoding.
// Parsing an ML-DSA-65 key expands its 6×5 matrix (~38 KB), too slow to repeat per request and
// too big to keep for every key ever seen.
type keyCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used; values are *keyEntry
	byKey map[[32]byte]*list.Element
}

type keyEntry struct {
	id  [32]byte
	key verifier
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, order: list.New(), byKey: make(map[[32]byte]*list.Element)}
}

// get returns the parsed key of raw, parsing and caching it if needed.
func (c *keyCache) get(raw []byte, sch *scheme) (verifier, [32]byte, error) {
	id := sha256.Sum256(raw)
	c.mu.Lock()
	if e, ok := c.byKey[id]; ok {
		c.order.MoveToFront(e)
		k := e.Value.(*keyEntry).key
		c.mu.Unlock()
		return k, id, nil
	}
	c.mu.Unlock()
	k, err := sch.parse(raw)
	if err != nil {
		return nil, id, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[id]; !ok {
		c.byKey[id] = c.order.PushFront(&keyEntry{id: id, key: k})
		for c.order.Len() > c.max {
			old := c.order.Remove(c.order.Back()).(*keyEntry)
			delete(c.byKey, old.id)
		}
	}
	return k, id, nil
}
