package l2

import (
	"math"
	"testing"
)

// No sequence of transactions reaches nonce 2^64-1, so nonce_exhausted is tested on a state
// built directly.
func TestNonceExhausted(t *testing.T) {
	var pk PublicKey
	pk.X.SetUint64(1)
	tests := []struct {
		name string
		tx   Tx
		want Status
	}{
		{"transfer", Tx{Type: TxTransfer, From: 1, To: 2, Amount: 1, Nonce: math.MaxUint64}, StatusNonceExhausted},
		{"withdraw", Tx{Type: TxWithdraw, From: 1, Amount: 1, Nonce: math.MaxUint64}, StatusNonceExhausted},
		{"transfer to a missing account", Tx{Type: TxTransfer, From: 1, To: 3, Nonce: math.MaxUint64}, StatusNonceExhausted},
		{"transfer over the balance", Tx{Type: TxTransfer, From: 1, To: 2, Amount: 101, Nonce: math.MaxUint64}, StatusNonceExhausted},
		{"bad nonce first", Tx{Type: TxTransfer, From: 1, To: 2, Amount: 1, Nonce: 0}, StatusBadNonce},
		{"withdraw bad nonce first", Tx{Type: TxWithdraw, From: 1, Nonce: math.MaxUint64 - 1}, StatusBadNonce},
		{"recipient may have any nonce", Tx{Type: TxTransfer, From: 2, To: 1, Amount: 1, Nonce: 0}, StatusOK},
	}
	for _, tc := range tests {
		s, err := NewState(4)
		if err != nil {
			t.Fatal(err)
		}
		s.setAccount(1, Account{PubKey: pk, Balance: 100, Nonce: math.MaxUint64})
		s.setAccount(2, Account{PubKey: pk, Balance: 100})
		root := s.Root()
		st, _ := s.Apply(&tc.tx, ApplyOptions{})
		if st != tc.want {
			t.Errorf("%s: status %v, want %v", tc.name, st, tc.want)
		}
		if r := s.Root(); st != StatusOK && !r.Equal(&root) {
			t.Errorf("%s: state changed", tc.name)
		}
	}
}
