package vectors

import (
	"bytes"
	"fmt"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// mldsaKeys derives two ML-DSA-65 keys from the generator's seed.
func (g *generator) mldsaKeys() (*pqkey.PrivateKey, *pqkey.PrivateKey) {
	return pqkey.NewKeyFromSeed(g.seed()), pqkey.NewKeyFromSeed(g.seed())
}

// mldsaTx signs a type 5/6 with k for the case's chain ID (deterministically, so the file is
// reproducible); k may be the wrong key on purpose.
func (b *builder) mldsaTx(k *pqkey.PrivateKey, tx l2.Tx) l2.Tx {
	if _, err := l2.SignMLDSADeterministic(k, b.opts.ChainID, &tx); err != nil && b.err == nil {
		b.err = err
	}
	return tx
}

func (b *builder) transferMLDSA(k *pqkey.PrivateKey, from, to uint32, amount, nonce uint64) l2.Tx {
	return b.mldsaTx(k, l2.Tx{Type: l2.TxTransferMLDSA, From: from, To: to, Amount: amount, Nonce: nonce})
}

func (b *builder) withdrawMLDSA(k *pqkey.PrivateKey, from uint32, addr byte, amount, nonce uint64) l2.Tx {
	tx := l2.Tx{Type: l2.TxWithdrawMLDSA, From: from, Amount: amount, Nonce: nonce}
	for i := range tx.Address {
		tx.Address[i] = addr + byte(i)
	}
	return b.mldsaTx(k, tx)
}

// dataBatch applies txs as interleaved batch data and checks their statuses.
func (b *builder) dataBatch(want []l2.Status, txs ...l2.Tx) {
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return
	}
	if got := b.rawData(data); b.err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
		b.err = fmt.Errorf("statuses %v, want %v", got, want)
	}
}

// knows gives the case's reference KeyBook the keys (the case's mldsa_keys).
func (b *builder) knows(keys ...*pqkey.PrivateKey) {
	book := l2.KeyMap{}
	for _, k := range keys {
		book.Add(k.Public().Bytes())
		b.c.MLDSAKeys = append(b.c.MLDSAKeys, k.Public().Bytes())
	}
	b.opts.Keys = book
}

func mldsaDeposit(k *pqkey.PrivateKey, to uint32, amount uint64) l2.Tx {
	return l2.Tx{Type: l2.TxDeposit, From: to, Amount: amount, PubKey: l2.MLDSAPublicKey(k.Public().Bytes())}
}

// mldsaCases covers ML-DSA accounts (docs §4.2, §7): deposits of (0, kh), types 5 and 6 applied
// as transfer and withdraw, key_kind_mismatch both ways after sender_not_found, and, with
// verify_signatures, bad ML-DSA signatures.
func (g *generator) mldsaCases(cases *[]Case) error {
	ka := g.keys[0]
	pa, pb := g.mldsaKeys()
	kind := l2.StatusKeyKindMismatch

	b := newCase("mldsa: deposits, transfer_mldsa and withdraw_mldsa, key kinds", depth, chainID, false)
	b.batch(statuses(ok, ok, ok, ok), deposit(ka, 3, 1000), mldsaDeposit(pa, 4, 500), mldsaDeposit(pb, 5, 50),
		mldsaDeposit(pa, 4, 1)) // a second deposit of the same key credits it
	b.dataBatch(statuses(ok, ok, kind, kind, kind, kind, l2.StatusSenderNotFound, l2.StatusBadNonce,
		l2.StatusRecipientNotFound, l2.StatusInsufficientBalance, ok, l2.StatusPubkeyMismatch, l2.StatusIndexOutOfRange),
		b.transferMLDSA(pa, 4, 3, 100, 0),
		b.withdrawMLDSA(pa, 4, 0x20, 1, 1),
		b.transferMLDSA(pa, 3, 4, 1, 0),     // type 5 from an EdDSA account
		b.withdrawMLDSA(pa, 3, 0x20, 1, 0),  // type 6 from an EdDSA account
		b.transfer(ka, 5, 3, 1, 0),          // type 2 from an ML-DSA account
		b.withdraw(ka, 4, 0x30, 1, 7),       // type 3 from an ML-DSA account: the kind before the nonce
		b.transferMLDSA(pa, 6, 3, 1, 0),     // no sender: sender_not_found first
		b.transferMLDSA(pb, 5, 4, 1, 1),     // bad nonce
		b.transferMLDSA(pb, 5, 6, 1, 0),     // no recipient
		b.withdrawMLDSA(pb, 5, 0x40, 51, 0), // more than the balance
		b.transfer(ka, 3, 5, 7, 0),          // an EdDSA account pays an ML-DSA one
		mldsaDeposit(pb, 4, 1),              // another ML-DSA key on an ML-DSA account
		b.transferMLDSA(pa, 4, outside, 1, 2))
	b.dataBatch(statuses(ok, ok, ok), b.withdrawMLDSA(pb, 5, 0x50, 57, 0), b.transferMLDSA(pa, 4, 4, 5, 2),
		b.withdrawMLDSA(pa, 4, 0x60, 0, 3))
	c, err := b.done()
	if err != nil {
		return err
	}
	*cases = append(*cases, c)

	b = newCase("mldsa: bad_signature with verify_signatures", depth, chainID, true)
	b.knows(pa) // pb's key is not in the KeyBook
	b.batch(statuses(ok, ok, ok), deposit(ka, 3, 1000), mldsaDeposit(pa, 4, 500), mldsaDeposit(pb, 5, 50))
	wrongKey := b.transferMLDSA(pb, 4, 3, 1, 0)
	otherChain := newCase("", depth, chainID+1, true).transferMLDSA(pa, 4, 3, 1, 0)
	tampered := b.transferMLDSA(pa, 4, 3, 1, 0)
	tampered.Amount = 2
	flipped := b.withdrawMLDSA(pa, 4, 0x10, 1, 0)
	flipped.MLDSASig = bytes.Clone(flipped.MLDSASig)
	flipped.MLDSASig[7] ^= 1
	flipped.SigDigest = l2.MLDSASigDigest(flipped.MLDSASig) // w2 names the changed signature
	notW2 := b.transferMLDSA(pa, 4, 3, 1, 0)
	notW2.MLDSASig = wrongKey.MLDSASig // another signature than the one w2 names
	b.dataBatch(statuses(l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusBadSignature, l2.StatusBadSignature,
		l2.StatusBadSignature, l2.StatusBadSignature, kind, kind, ok, ok, l2.StatusBadSignature),
		wrongKey, otherChain, tampered, flipped, notW2,
		b.transferMLDSA(pb, 5, 3, 1, 0), // pb signs correctly, but its key is unknown
		b.transfer(ka, 4, 3, 1, 0),      // type 2 from ML-DSA: the kind before the signature
		b.transferMLDSA(pa, 3, 4, 1, 0), // type 5 from EdDSA
		b.transferMLDSA(pa, 4, 3, 1, 0), b.withdrawMLDSA(pa, 4, 0x10, 1, 1),
		b.transferMLDSA(pb, 4, 3, 1, 2)) // the right nonce, the wrong signer
	c, err = b.done()
	if err != nil {
		return err
	}
	*cases = append(*cases, c)
	return nil
}

// interleaved covers the interleaved form's structure (docs §5.4): a valid batch of both kinds
// and its data hash (over the records), and the malformed forms.
func (g *generator) interleaved() ([]Interleaved, error) {
	pa, _ := g.mldsaKeys()
	b := newCase("", depth, chainID, false)
	txs := []l2.Tx{b.transfer(g.keys[0], 3, 4, 1, 0), b.transferMLDSA(pa, 4, 3, 2, 0), noop, b.withdrawMLDSA(pa, 4, 0x70, 3, 1)}
	if b.err != nil {
		return nil, b.err
	}
	data, err := l2.EncodeBatchData(txs)
	if err != nil {
		return nil, err
	}
	sig := 2 * l2.TxSize // the first signature's offset
	cases := []struct {
		name string
		data []byte
	}{
		{"records of both kinds, each ML-DSA record followed by its signature", data},
		{"a record cut short", data[:len(data)-1]},
		{"a truncated signature", data[:sig+l2.MLDSASigSize-1]},
		{"a type 5 record without its signature at the end", data[:sig]},
		{"a signature placed before its record", append(bytes.Clone(data[sig:sig+l2.MLDSASigSize]), data[l2.TxSize:sig]...)},
		{"a signature missing before another record (read as the signature)", append(bytes.Clone(data[:sig]), data[sig+l2.MLDSASigSize:]...)},
	}
	out := make([]Interleaved, len(cases))
	for i, c := range cases {
		out[i] = Interleaved{Name: c.name, Data: c.data}
		records, _, err := l2.SplitBatchData(c.data)
		if err == nil {
			h, herr := l2.DataHash(c.data)
			err = herr
			out[i].Records, out[i].DataHash = records, ptr(h)
		}
		out[i].Error = ErrorName(err)
	}
	return out, nil
}
