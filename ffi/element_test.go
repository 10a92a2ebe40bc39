package ffi

import (
	"errors"
	"testing"
)

// TestElementsNonCanonical: the modulus, the smallest non-canonical word, is refused wherever it
// stands. (TestWitness reads the core's witnesses with Elements.)
func TestElementsNonCanonical(t *testing.T) {
	high := [32]byte(modulusBE)
	tests := []struct {
		name string
		w    Witness
	}{
		{"public key x", Witness{Account: Account{PubKeyX: high}}},
		{"public key y", Witness{Account: Account{PubKeyY: high}}},
		{"sibling", Witness{Siblings: [][32]byte{{}, high}}},
	}
	for _, tt := range tests {
		if _, _, _, err := tt.w.Elements(); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s not canonical: error %v, want ErrNonCanonical", tt.name, err)
		}
	}
}
