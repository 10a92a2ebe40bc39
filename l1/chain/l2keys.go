package chain

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// ML-DSA L2 accounts on L1 (docs/l1.md §5): the key registry that deposits fill, the
// availability and mode rules of batches holding type 5/6 transactions, and exodus signatures.

const MethodL2Key = l1api.MethodL2Key

type L2KeyRef = l1api.L2KeyRef

var (
	ErrMLDSAInValidityBatch = l1api.ErrMLDSAInValidityBatch
	ErrUnknownL2Key         = l1api.ErrUnknownL2Key
)

// keyL2Key is the registry entry of the ML-DSA key of hash kh in a rollup: the key's bytes.
func keyL2Key(id uint64, kh [32]byte) string {
	return u64key(prefixState+"l2key/", id) + "/" + string(kh[:])
}

// checkDepositKeySize checks an ML-DSA deposit's key size, before anything else is read.
func checkDepositKeySize(p *Deposit) error {
	if len(p.MLDSAKey) != 0 && len(p.MLDSAKey) != l2.MLDSAPubSize {
		return fmt.Errorf("%w: ML-DSA key of %d bytes, want %d", ErrBadL2Key, len(p.MLDSAKey), l2.MLDSAPubSize)
	}
	return nil
}

// depositKey is the L2 key a deposit credits (docs/protocol.md §4.2): with MLDSAKey, (0,
// MLDSAKeyHash(MLDSAKey)), which PKX and PKY must be (or both zero); without it, an EdDSA key in
// the prime-order subgroup, whose x is never 0: PKX = 0 without MLDSAKey is refused by name.
func depositKey(p *Deposit) (l2.PublicKey, error) {
	if len(p.MLDSAKey) == 0 {
		if p.PKX == ([32]byte{}) {
			return l2.PublicKey{}, fmt.Errorf("%w: x = 0 names an ML-DSA account, and the deposit carries no ML-DSA key", ErrBadL2Key)
		}
		return validL2Key(p.PKX, p.PKY)
	}
	if _, err := pqkey.ParsePublicKey(p.MLDSAKey); err != nil {
		return l2.PublicKey{}, fmt.Errorf("%w: ML-DSA key: %v", ErrBadL2Key, err)
	}
	pk := l2.MLDSAPublicKey(p.MLDSAKey)
	if p.PKX == ([32]byte{}) && p.PKY == ([32]byte{}) {
		return pk, nil
	}
	if p.PKX != ([32]byte{}) || p.PKY != pk.Y.Bytes() {
		return l2.PublicKey{}, fmt.Errorf("%w: an ML-DSA deposit's key must be (0, MLDSAKeyHash(key))", ErrBadL2Key)
	}
	return pk, nil
}

// registerL2Key records an ML-DSA deposit's key under its hash; the first deposit registers it,
// later ones find it there (the hash binds the bytes).
func (x *executor) registerL2Key(id uint64, pk l2.PublicKey, pub []byte) error {
	if len(pub) == 0 {
		return nil
	}
	key := keyL2Key(id, pk.Y.Bytes())
	if _, ok, err := x.o.get(key); err != nil {
		return fatal(err)
	} else if ok {
		return nil
	}
	x.o.put(key, bytes.Clone(pub))
	return nil
}

// l2Key reads the registered ML-DSA key of hash kh.
func (x *executor) l2Key(id uint64, kh [32]byte) ([]byte, error) {
	pub, ok, err := x.o.get(keyL2Key(id, kh))
	if err != nil {
		return nil, fatal(err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: rollup %d key hash %x", ErrUnknownL2Key, id, kh)
	}
	return pub, nil
}

// L2Key returns the ML-DSA-65 public key a deposit registered in a rollup under its hash kh
// (ErrNotFound if none did).
func (c *Chain) L2Key(rollupID uint64, kh [32]byte) ([]byte, error) {
	b, ok, err := c.get(keyL2Key(rollupID, kh))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: ML-DSA key %x of rollup %d", ErrNotFound, kh, rollupID)
	}
	return b, nil
}

// checkBatchSignatures applies the rules of a batch's type 5/6 transactions (docs/l1.md §5):
// each signature in the data has the digest w2 (availability), and a validity batch holds none.
func checkBatchSignatures(mode uint8, txs []l2.Tx, sigs [][]byte) error {
	if err := l2.CheckSignatureDigests(txs, sigs); err != nil {
		return fmt.Errorf("%w: %w", ErrBatchData, err)
	}
	if mode != ModeValidity {
		return nil
	}
	for k := range txs {
		if txs[k].Type.MLDSA() {
			return fmt.Errorf("%w: transaction %d is a %s", ErrMLDSAInValidityBatch, k, txs[k].Type)
		}
	}
	return nil
}

// verifyExodusSig checks an exodus withdrawal's signature by the account's kind: EdDSA under
// (PKX, PKY), or for an ML-DSA account (pk.x = 0) MLDSASig under the key registered for pk.y.
func (x *executor) verifyExodusSig(r *Rollup, p *ExodusWithdrawal, pk l2.PublicKey) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: exodus of account %d: %s", ErrBadL2Signature, p.Index, what)
	}
	if !l2.IsMLDSAKey(pk) {
		if len(p.MLDSASig) != 0 {
			return bad("an ML-DSA signature for an EdDSA account")
		}
		msg := ExodusMessage(p.Index, p.Balance, p.Recipient)
		var err error
		if msg.Sig.RX, err = fieldElement(p.SigRX); err == nil {
			if msg.Sig.RY, err = fieldElement(p.SigRY); err == nil {
				msg.Sig.S, err = fieldElement(p.SigS)
			}
		}
		if err != nil || !l2.VerifyTx(pk, r.Config.L2ChainID, &msg) {
			return bad("EdDSA signature")
		}
		return nil
	}
	if p.SigRX != ([32]byte{}) || p.SigRY != ([32]byte{}) || p.SigS != ([32]byte{}) {
		return bad("an EdDSA signature for an ML-DSA account")
	}
	if len(p.MLDSASig) != l2.MLDSASigSize {
		return bad(fmt.Sprintf("ML-DSA signature of %d bytes, want %d", len(p.MLDSASig), l2.MLDSASigSize))
	}
	pub, err := x.l2Key(r.ID, pk.Y.Bytes())
	if err != nil {
		return err
	}
	if err := l1api.VerifyExodusMLDSA(pub, r.Config.L2ChainID, p.Index, p.Balance, p.Recipient, p.MLDSASig); err != nil {
		return bad(err.Error())
	}
	return nil
}

// ExodusMLDSAPayload is l1api.ExodusMLDSAPayload.
func ExodusMLDSAPayload(l2ChainID uint64, index uint32, balance uint64, recipient common.Address) [32]byte {
	return l1api.ExodusMLDSAPayload(l2ChainID, index, balance, recipient)
}

// SignExodusMLDSA is l1api.SignExodusMLDSA.
func SignExodusMLDSA(k *pqkey.PrivateKey, l2ChainID uint64, index uint32, balance uint64, recipient common.Address) ([]byte, error) {
	return l1api.SignExodusMLDSA(k, l2ChainID, index, balance, recipient)
}
