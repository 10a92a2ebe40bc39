package sequencer

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// prefixKey holds the ML-DSA-65 public keys of the deposits the sequencer executed:
// k/<kh> -> the 1,952-byte key, written with the block that executed the deposit.
var prefixKey = []byte("k/")

func keyKey(kh fr.Element) []byte {
	b := kh.Bytes()
	return append(append([]byte(nil), prefixKey...), b[:]...)
}

// keyBook resolves an ML-DSA account's public key from its key hash kh (docs/protocol.md §4.2):
// in memory, then the sequencer's database (the keys of the deposits it executed), then
// Config.Keys (L1's key registry). A key never changes once known: the hash names it. Up to
// maxParsedKeys keys are kept parsed in memory (decoding an ML-DSA-65 key, which expands its
// matrix to ≈37 KB, costs more than a verification); beyond, an arbitrary one is dropped and
// read again from the database when needed.
type keyBook struct {
	mu    sync.Mutex
	cache map[fr.Element]*pqkey.PublicKey
	db    *store
	ext   l2.KeyBook
}

// maxParsedKeys bounds the key book's memory: ≈150 MB of parsed keys.
const maxParsedKeys = 4096

func newKeyBook(db *store, ext l2.KeyBook) *keyBook {
	return &keyBook{cache: make(map[fr.Element]*pqkey.PublicKey), db: db, ext: ext}
}

func (k *keyBook) cached(kh fr.Element) *pqkey.PublicKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cache[kh]
}

func (k *keyBook) keep(kh fr.Element, pk *pqkey.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= maxParsedKeys {
		for x := range k.cache {
			delete(k.cache, x)
			break
		}
	}
	k.cache[kh] = pk
}

// lookup returns the key of hash kh, and whether it is known; err is a database failure, or a
// key of the wrong hash or that does not decode.
func (k *keyBook) lookup(kh fr.Element) (*pqkey.PublicKey, bool, error) {
	if pk := k.cached(kh); pk != nil {
		return pk, true, nil
	}
	pub, ok, err := k.db.get(keyKey(kh))
	if err != nil {
		return nil, false, fmt.Errorf("ML-DSA key %x: %w", kh.Bytes(), err)
	}
	if !ok && k.ext != nil {
		pub, ok = k.ext.MLDSAKey(kh)
	}
	if !ok {
		return nil, false, nil
	}
	if h := l2.MLDSAKeyHash(pub); !h.Equal(&kh) { // a key source that does not give what it was asked
		return nil, false, fmt.Errorf("ML-DSA key source gave a key of hash %x for %x", h.Bytes(), kh.Bytes())
	}
	pk, err := pqkey.ParsePublicKey(pub)
	if err != nil {
		return nil, false, fmt.Errorf("ML-DSA key %x: %w", kh.Bytes(), err)
	}
	k.keep(kh, pk)
	return pk, true, nil
}

// learn puts the keys that the deposits of a block carry into b (stored with the block) and
// returns them, for remember once the block is durable. A deposit whose key is not the one
// its account key names, or does not decode, is not the protocol's (L1 refuses it): its key is
// not learnt.
func (k *keyBook) learn(b *pebble.Batch, deps []Deposit) ([]*pqkey.PublicKey, error) {
	var out []*pqkey.PublicKey
	for _, d := range deps {
		if d.MLDSAKey == nil {
			continue
		}
		if want := l2.MLDSAPublicKey(d.MLDSAKey); want != d.PubKey {
			continue
		}
		pk, err := pqkey.ParsePublicKey(d.MLDSAKey)
		if err != nil {
			continue
		}
		if err := b.Set(keyKey(d.PubKey.Y), d.MLDSAKey, nil); err != nil {
			return nil, err
		}
		out = append(out, pk)
	}
	return out, nil
}

// remember caches keys learnt from a stored block.
func (k *keyBook) remember(keys []*pqkey.PublicKey) {
	for _, pk := range keys {
		k.keep(l2.MLDSAKeyHash(pk.Bytes()), pk)
	}
}

// MLDSAKey implements l2.KeyBook with the sequencer's keys (keyBook.lookup): the settlement
// engine's cross-check and the Go reference replay read the keys of the sequencer's accounts
// through it. A database failure is logged and reported as an unknown key.
func (s *Sequencer) MLDSAKey(kh fr.Element) ([]byte, bool) {
	pk, ok, err := s.keys.lookup(kh)
	if err != nil {
		s.log.Warn("ML-DSA key lookup failed", "err", err)
	}
	if !ok {
		return nil, false
	}
	return pk.Bytes(), true
}
