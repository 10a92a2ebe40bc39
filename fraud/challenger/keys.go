package challenger

import (
	"context"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

// maxCachedKeys bounds the challenger's cache of ML-DSA keys (1,952 bytes each, about 16 MB):
// past it the cache starts again, before a batch's keys are fetched.
const maxCachedKeys = 8192

// keyCache is the challenger's KeyBook (docs §11.4): L1's registry of ML-DSA L2 keys
// (l1_l2Key), fetched before a batch is checked and cached. A key is registered by the deposit
// that makes its account and never changes, so a cached key is never stale.
type keyCache struct {
	src      Source
	rollupID uint64
	keys     l2.KeyMap
}

func newKeyCache(src Source, rollupID uint64) *keyCache {
	return &keyCache{src: src, rollupID: rollupID, keys: l2.KeyMap{}}
}

// MLDSAKey implements l2.KeyBook from the cache; fetch fills it first.
func (k *keyCache) MLDSAKey(kh fr.Element) ([]byte, bool) { return k.keys.MLDSAKey(kh) }

// fetch caches the keys a batch's ML-DSA transactions may need: the key of each type 5/6
// sender that is an ML-DSA account before the batch (account reads the agreed state), and of
// each ML-DSA account a deposit of the batch may create. A key L1 does not know is left out (the
// reference then finds the signature bad and fraud.Build says the key is unknown); any other
// error of L1 is returned: the batch is checked again later.
func (k *keyCache) fetch(ctx context.Context, txs []l2.Tx, account func(uint32) (l2.Account, bool, error)) error {
	var want []fr.Element
	for i := range txs {
		tx := &txs[i]
		switch {
		case tx.Type == l2.TxDeposit && l2.IsMLDSAKey(tx.PubKey):
			want = append(want, tx.PubKey.Y)
		case tx.Type.MLDSA():
			a, ok, err := account(tx.From)
			if err != nil {
				return err
			}
			if ok && l2.IsMLDSAKey(a.PubKey) {
				want = append(want, a.PubKey.Y)
			}
		}
	}
	if len(k.keys)+len(want) > maxCachedKeys {
		k.keys = l2.KeyMap{}
	}
	for _, kh := range want {
		if _, ok := k.keys[kh]; ok {
			continue
		}
		pub, err := k.src.L2Key(ctx, k.rollupID, kh.Bytes())
		if errors.Is(err, l1api.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("challenger: reading the ML-DSA key %x: %w", kh.Bytes(), err)
		}
		if got := l2.MLDSAKeyHash(pub); !got.Equal(&kh) {
			return fmt.Errorf("challenger: L1's ML-DSA key for %x has another hash", kh.Bytes())
		}
		k.keys[kh] = pub
	}
	return nil
}
