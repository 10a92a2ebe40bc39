package l2_test

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// TestVerifyMLDSAKey: under a parsed key, VerifyMLDSAKey and VerifyMLDSAMessage (with the
// signed message) give VerifyMLDSA's answer for a valid signature and each kind of bad one.
func TestVerifyMLDSAKey(t *testing.T) {
	key := mldsaKey(7)
	pub := key.Public().Bytes()
	pk, err := pqkey.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	tx := mldsaTx(t, key, l2.TxTransferMLDSA)
	other := tx
	other.Amount++
	eddsa := tx
	eddsa.Type = l2.TxTransfer
	for name, c := range map[string]struct {
		tx    *l2.Tx
		chain uint64
		sig   []byte
		ok    bool
	}{
		"valid":        {&tx, 42, tx.MLDSASig, true},
		"other chain":  {&tx, 43, tx.MLDSASig, false},
		"other amount": {&other, 42, tx.MLDSASig, false},
		"short sig":    {&tx, 42, tx.MLDSASig[1:], false},
		"EdDSA type":   {&eddsa, 42, tx.MLDSASig, false},
	} {
		errKey, errPub := l2.VerifyMLDSAKey(pk, c.chain, c.tx, c.sig), l2.VerifyMLDSA(pub, c.chain, c.tx, c.sig)
		if (errKey == nil) != c.ok || (errPub == nil) != c.ok || (!c.ok && !errors.Is(errKey, l2.ErrMLDSASignature)) {
			t.Errorf("%s: VerifyMLDSAKey %v, VerifyMLDSA %v, want ok = %v", name, errKey, errPub, c.ok)
		}
		// With the message given: the right one gives the same answer, another one fails.
		m := l2.SignedMessage(c.chain, c.tx)
		if err := l2.VerifyMLDSAMessage(pk, c.chain, c.tx, m, c.sig); (err == nil) != c.ok {
			t.Errorf("%s: VerifyMLDSAMessage %v, want ok = %v", name, err, c.ok)
		}
		var wrong fr.Element
		wrong.SetUint64(1)
		wrong.Add(&wrong, &m)
		if err := l2.VerifyMLDSAMessage(pk, c.chain, c.tx, wrong, c.sig); err == nil {
			t.Errorf("%s: VerifyMLDSAMessage with another message verifies", name)
		}
	}
}
