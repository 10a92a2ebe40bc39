package ffi

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Element reads a 32-byte word of the core (big-endian) as a field element, for the callers that
// compute with the core's roots, keys and siblings (the prover's witness source, the
// challenger). The core returns canonical words only, so an error means the library and this
// binding disagree.
func Element(word [32]byte) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(word[:]); err != nil {
		return e, fmt.Errorf("ffi: word %x from the core: %w", word, ErrNonCanonical)
	}
	return e, nil
}

// PubKey returns the account's public key coordinates as field elements.
func (a *Account) PubKey() (x, y fr.Element, err error) {
	if x, err = Element(a.PubKeyX); err != nil {
		return x, y, err
	}
	y, err = Element(a.PubKeyY)
	return x, y, err
}

// Elements returns the witness's public key coordinates and siblings as field elements. The
// siblings are a new slice: they outlive the buffer of a [BatchWitness].
func (w *Witness) Elements() (x, y fr.Element, siblings []fr.Element, err error) {
	if x, y, err = w.PubKey(); err != nil {
		return x, y, nil, err
	}
	siblings = make([]fr.Element, len(w.Siblings))
	for l := range w.Siblings {
		if siblings[l], err = Element(w.Siblings[l]); err != nil {
			return x, y, nil, err
		}
	}
	return x, y, siblings, nil
}
