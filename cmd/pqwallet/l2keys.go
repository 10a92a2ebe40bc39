package main

import (
	"fmt"

	"github.com/pqbridge/pqbridge/l1/l1api"

	"github.com/pqbridge/pqbridge/l2"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// l2Keys are the wallet's L2 keys of both kinds (EdDSA and ML-DSA-65).
func (a *app) l2Keys() ([]namedKey, error) {
	all, err := a.keys()
	var out []namedKey
	for _, k := range all {
		if k.Info.Public.Kind.IsL2() {
			out = append(out, k)
		}
	}
	return out, err
}

// l2Key reads the public part of key name and checks that it is an L2 key of either kind.
func (a *app) l2Key(name string) (namedKey, error) {
	k, err := a.key(name)
	if err != nil {
		return k, err
	}
	if !k.Info.Public.Kind.IsL2() {
		return k, fmt.Errorf("key %q is an %s key, this needs an L2 key (%s or %s)", name, k.Info.Public.Kind, keystore.KindL2, keystore.KindL2MLDSA)
	}
	return k, nil
}

func (a *app) unlockL2MLDSA(k namedKey) (*pqkey.PrivateKey, error) {
	key, err := a.unlock(k)
	if err != nil {
		return nil, err
	}
	return key.L2MLDSA()
}

// mldsaType is the type of a transfer or withdraw signed by an ML-DSA-65 account (types 5 and 6,
// docs/protocol.md §4.2): the same transaction, its w2 the signature's digest.
func mldsaType(t l2.TxType) l2.TxType {
	switch t {
	case l2.TxTransfer:
		return l2.TxTransferMLDSA
	case l2.TxWithdraw:
		return l2.TxWithdrawMLDSA
	}
	return t
}

// signL2 unlocks key k and signs tx with it for the configured L2 chain, returning what
// rollup_sendTransaction takes: the 160-byte record, followed for a type 5/6 by its ML-DSA-65
// signature (the interleaved form of batch data, docs/protocol.md §5.4).
func (a *app) signL2(k namedKey, tx *l2.Tx) ([]byte, error) {
	if k.Info.Public.Kind == keystore.KindL2MLDSA {
		sk, err := a.unlockL2MLDSA(k)
		if err != nil {
			return nil, err
		}
		return signedMLDSA(sk, a.cfg.l2ChainID, tx)
	}
	sk, err := a.unlockL2(k)
	if err != nil {
		return nil, err
	}
	if err := l2.SignTx(sk, a.cfg.l2ChainID, tx); err != nil {
		return nil, err
	}
	rec := tx.Encode()
	return rec[:], nil
}

// signedMLDSA signs the type 5/6 tx with sk and returns its record followed by the signature.
func signedMLDSA(sk *pqkey.PrivateKey, chainID uint64, tx *l2.Tx) ([]byte, error) {
	sig, err := l2.SignMLDSA(sk, chainID, tx)
	if err != nil {
		return nil, err
	}
	rec := tx.Encode()
	return append(rec[:], sig...), nil
}

// signExodus signs the exodus withdrawal p (its index, balance and recipient set) with the
// wallet key k of the account: EdDSA over l1api.ExodusMessage, or for an ML-DSA account
// ML-DSA-65 under pqkey.ContextL2Exodus (MLDSASig; L1 verifies it under the key it registered).
func (a *app) signExodus(k namedKey, l2ChainID uint64, p *l1api.ExodusWithdrawal) error {
	if k.Info.Public.Kind == keystore.KindL2MLDSA {
		sk, err := a.unlockL2MLDSA(k)
		if err != nil {
			return err
		}
		p.MLDSASig, err = l1api.SignExodusMLDSA(sk, l2ChainID, p.Index, p.Balance, p.Recipient)
		return err
	}
	sk, err := a.unlockL2(k)
	if err != nil {
		return err
	}
	msg := l1api.ExodusMessage(p.Index, p.Balance, p.Recipient)
	if err := l2.SignTx(sk, l2ChainID, &msg); err != nil {
		return err
	}
	p.SigRX, p.SigRY, p.SigS = msg.Sig.RX.Bytes(), msg.Sig.RY.Bytes(), msg.Sig.S.Bytes()
	return nil
}
