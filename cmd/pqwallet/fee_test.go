package main

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// TestWalletFeeShownAndRefusedEarly: the wallet prices a signed L1 transaction with the
// chain's fees, and refuses before sending when the balance cannot pay fee plus value.
func TestWalletFeeShownAndRefusedEarly(t *testing.T) {
	k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x77})
	raw, err := chain.SignTx(k, chain.TxTransfer, 5, 0, &chain.Transfer{To: common.Address{1}, Amount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	fees := chain.Fees{Base: 100, PerByte: 1}
	want := 100 + uint64(len(raw))
	if fee, err := l1Cost(raw, 5, fees, want+1000); err != nil || fee != want {
		t.Fatalf("fee %d, %v; want %d", fee, err, want)
	}
	for _, balance := range []uint64{0, want - 1, want + 999} {
		if _, err := l1Cost(raw, 5, fees, balance); err == nil || !strings.Contains(err.Error(), "cannot pay the fee") {
			t.Fatalf("balance %d: %v", balance, err)
		}
	}
	if fee, err := l1Cost(raw, 5, chain.Fees{}, 1000); err != nil || fee != 0 {
		t.Fatalf("no fees: %d, %v", fee, err)
	}
}
