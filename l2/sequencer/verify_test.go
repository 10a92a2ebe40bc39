package sequencer

import (
	"context"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// TestVerifierMatchesReference checks the batched verifier against l2.VerifyTx on valid,
// torsion-component (valid by the cofactored rule), tampered and wrong-key signatures, sent
// concurrently so that batches of many sizes form.
func TestVerifierMatchesReference(t *testing.T) {
	keys := newKeys(t, 3, 21)
	signer := l2test.NewSigner(big.NewInt(12345))
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct {
		pk l2.PublicKey
		tx l2.Tx
	}
	n := 200
	if testing.Short() {
		n = 60
	}
	items := make([]item, n)
	for i := range items {
		tx := l2.Tx{Type: l2.TxTransfer, From: uint32(rng.IntN(100)), To: 3, Amount: rng.Uint64(), Nonce: rng.Uint64N(50)}
		if i%3 == 0 {
			tx = l2.Tx{Type: l2.TxWithdraw, From: 5, Amount: rng.Uint64(), Nonce: 1, Address: [20]byte{byte(i)}}
		}
		pk := keys[i%3].Public()
		switch i % 6 {
		case 4: // torsion component in R
			signer.Sign(testChainID, &tx, l2test.TorsionPoint(8))
			pk = signer.Public()
		default:
			if err := l2.SignTx(keys[i%3], testChainID, &tx); err != nil {
				t.Fatal(err)
			}
		}
		switch rng.IntN(5) {
		case 0:
			tx.Amount ^= 1 // tampered message
		case 1:
			pk = keys[(i+1)%3].Public() // wrong key
		case 2:
			tx.Sig.S.SetUint64(7) // wrong scalar
		}
		items[i] = item{pk: pk, tx: tx}
	}
	v := newVerifier(testChainID, 2)
	defer v.stop()
	var wg sync.WaitGroup
	for i := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it := &items[i]
			got, err := v.verify(context.Background(), it.pk, nil, &it.tx)
			if want := l2.VerifyTx(it.pk, testChainID, &it.tx); err != nil || got != want {
				t.Errorf("item %d: verifier %v (%v), reference %v", i, got, err, want)
			}
		}()
	}
	wg.Wait()
}

// TestVerifierMixedKinds sends EdDSA and ML-DSA-65 jobs concurrently, valid and not (tampered
// amount, another chain's signature, another key), so that batches mix both kinds: every result
// is the reference's (l2.VerifyTx, l2.VerifyMLDSA).
func TestVerifierMixedKinds(t *testing.T) {
	ed := newKeys(t, 2, 23)
	pq := []*pqkey.PrivateKey{mldsaTestKey(21), mldsaTestKey(22)}
	type item struct {
		pk  l2.PublicKey
		pub *pqkey.PublicKey
		tx  l2.Tx
	}
	var items []item
	for i := range 80 {
		tx := l2.Tx{Type: l2.TxTransfer, From: uint32(i), To: 3, Amount: uint64(100 + i), Nonce: uint64(i % 5)}
		var it item
		if i%2 == 0 {
			tx.Type = l2.TxTransferMLDSA
			if i%4 == 2 {
				tx.Type, tx.To, tx.Address = l2.TxWithdrawMLDSA, 0, [20]byte{byte(i)}
			}
			chain := uint64(testChainID)
			if i%10 == 4 {
				chain++ // another chain's signature
			}
			if _, err := l2.SignMLDSA(pq[i%4/2], chain, &tx); err != nil {
				t.Fatal(err)
			}
			it = item{pk: l2.MLDSAPublicKey(pq[0].Public().Bytes()), pub: pq[0].Public()} // another key for pq[1]
		} else {
			if err := l2.SignTx(ed[i%2], testChainID, &tx); err != nil {
				t.Fatal(err)
			}
			it = item{pk: ed[0].Public()} // another key for ed[1]
		}
		if i%7 == 3 {
			tx.Amount++ // tampered
		}
		it.tx = tx
		items = append(items, it)
	}
	v := newVerifier(testChainID, 2)
	defer v.stop()
	var wg sync.WaitGroup
	valid := 0
	var mu sync.Mutex
	for i := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it := &items[i]
			got, err := v.verify(context.Background(), it.pk, it.pub, &it.tx)
			want := l2.VerifyTx(it.pk, testChainID, &it.tx)
			if it.tx.Type.MLDSA() {
				want = l2.VerifyMLDSA(it.pub.Bytes(), testChainID, &it.tx, it.tx.MLDSASig) == nil
			}
			if err != nil || got != want {
				t.Errorf("item %d (%s): verifier %v (%v), reference %v", i, it.tx.Type, got, err, want)
			}
			if got {
				mu.Lock()
				valid++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if valid == 0 || valid == len(items) {
		t.Fatalf("%d of %d valid: the cases do not mix valid and invalid", valid, len(items))
	}
}
