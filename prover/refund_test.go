package prover

import (
	"errors"
	"math/big"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// TestAssignRefusesRefund: a refund (docs/protocol.md §7.6) is valid only when no index can
// take its deposit, which no circuit-sized witness shows, so the validity circuit has no refund
// slot (type < 4) and Assign refuses the batch as not provable: it settles optimistically.
func TestAssignRefusesRefund(t *testing.T) {
	sc := newScenario(t) // sc.state: after the scenario's prefix
	var accounts []l2.IndexedAccount
	for i := uint32(0); i < 1<<soundDepth; i++ { // a full tree: the refund is valid
		a, ok := sc.state.Account(i)
		if !ok {
			a = l2.Account{PubKey: l2test.NewSigner(big.NewInt(int64(300 + i))).Public()}
		}
		accounts = append(accounts, l2.IndexedAccount{Index: i, Account: a})
	}
	s, err := l2.NewStateFromAccounts(soundDepth, accounts)
	if err != nil {
		t.Fatal(err)
	}
	refund := l2.Tx{Type: l2.TxRefund, Amount: 5, PubKey: sc.eve.Public(), Address: [20]byte{7}}
	txs := []l2.Tx{{}, refund}
	trace, err := (&ReferenceSource{State: s}).ApplyBatchWitness(txs)
	if err != nil {
		t.Fatal(err)
	}
	for k, st := range trace.Statuses {
		if st != l2.StatusOK {
			t.Fatalf("transaction %d: %s", k, st)
		}
	}
	if _, err := Assign(soundParams, &Batch{ChainID: testChainID, Txs: txs}, trace); !errors.Is(err, ErrNotProvable) {
		t.Fatalf("Assign of a batch with a refund: %v, want ErrNotProvable", err)
	}
	if _, err := Assign(soundParams, &Batch{ChainID: testChainID, Txs: txs[:1]}, &BatchTrace{PrevRoot: trace.PrevRoot,
		Statuses: trace.Statuses[:1], PostRoots: trace.PostRoots[:1], Witnesses: trace.Witnesses[:1]}); err != nil {
		t.Fatalf("Assign of the same batch without the refund: %v", err)
	}
}
