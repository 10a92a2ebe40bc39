package vectors

import (
	"math/rand/v2"

	"github.com/pqbridge/pqbridge/l2"
)

// refund is the refund of a deposit of amount for k's key, paid to the depositor whose address
// bytes start at addr (docs §7.6).
func refund(k *l2.PrivateKey, addr byte, amount uint64) l2.Tx {
	tx := l2.Tx{Type: l2.TxRefund, Amount: amount, PubKey: k.Public()}
	for i := range tx.Address {
		tx.Address[i] = addr + byte(i)
	}
	return tx
}

// refundCases covers refunds (docs §7.6): valid only on a full tree for a key that no account
// can take, deposit_placeable otherwise, judged on the state the batch has reached (accounts
// created and balances moved earlier in the same batch), and their structural rules.
func (g *generator) refundCases(cases *[]Case) error {
	ka, kb, kc := g.keys[0], g.keys[1], g.keys[2]
	// A key no account of these cases holds, made apart from g.rng so the other cases keep theirs.
	kn, err := l2.GenerateKey(rand.NewChaCha8([32]byte{'r', 'e', 'f', 'u', 'n', 'd'}))
	if err != nil {
		return err
	}
	const nearlyFull = maxU64 - 5
	placeable := l2.StatusDepositPlaceable

	b := newCase("refund: valid only when the deposit has no index", 2, chainID, false)
	// The tree fills up within the batch: the first refund still has index 3, the second none.
	b.batch(statuses(placeable, ok, ok, ok, placeable, ok, ok),
		refund(kn, 0x10, 7), deposit(ka, 0, 10), deposit(kb, 1, 20), deposit(kc, 2, 30),
		refund(kn, 0x10, 7), deposit(ka, 3, nearlyFull), refund(kn, 0x10, 7))
	// An existing key with room is placeable; without room at any of its accounts it is not.
	b.batch(statuses(placeable, placeable, ok, ok),
		refund(kb, 0x20, 1), refund(ka, 0x30, 5), refund(ka, 0x30, nearlyFull), refund(kc, 0x40, maxU64))
	// A transfer empties account 0 earlier in the batch: key a can now take the amount there.
	b.batch(statuses(ok, ok, placeable, ok),
		refund(ka, 0x30, nearlyFull), b.transfer(ka, 0, 1, 10, 0), refund(ka, 0x30, nearlyFull), refund(kn, 0x50, 0))
	c, err := b.done()
	if err != nil {
		return err
	}
	*cases = append(*cases, c)

	valid := refund(kn, 0x10, 7)
	faults := []struct {
		name   string
		offset int
		value  []byte
	}{
		{"refund with from", 11, []byte{1}},
		{"refund with to", 15, []byte{1}},
		{"refund with nonce", 31, []byte{1}},
		{"refund address = 2^160", 32 + 11, []byte{1}},
		{"refund with w4", 159, []byte{1}},
	}
	for _, f := range faults {
		b := newCase("structure: "+f.name+" -> malformed", depth, chainID, false)
		data := l2.EncodeBatch([]l2.Tx{valid})
		copy(data[f.offset:], f.value)
		b.raw(data, "malformed")
		b.batch(statuses(placeable), valid)
		c, err := b.done()
		if err != nil {
			return err
		}
		*cases = append(*cases, c)
	}
	return nil
}
