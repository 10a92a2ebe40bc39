package l1api

import (
	"math"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// ExodusNonce is the nonce of an exodus message: no L2 state accepts it (a withdraw needs
// nonce = sender.nonce, and sender.nonce = 2^64−1 is nonce_exhausted, docs §7.4), so an exodus
// signature is never a valid L2 transaction.
const ExodusNonce = math.MaxUint64

// ExodusMessage is the transaction an account holder signs with l2.SignTx (and the rollup's L2
// chain ID) to withdraw its balance during exodus: an L2 withdraw of the whole balance from
// its index to the L1 recipient, with the impossible nonce ExodusNonce as the domain tag.
func ExodusMessage(index uint32, balance uint64, recipient common.Address) l2.Tx {
	return l2.Tx{Type: l2.TxWithdraw, From: index, Amount: balance, Nonce: ExodusNonce, Address: recipient}
}

// SignGuardianAction is one guardian's signature of an action at the rollup's guardian nonce.
func SignGuardianAction(k *pqkey.PrivateKey, chainID, rollupID uint64, action uint8, nonce uint64) ([]byte, error) {
	msg, err := rlp.EncodeToBytes(&GuardianMessage{RollupID: rollupID, Action: action})
	if err != nil {
		return nil, err
	}
	return k.Sign(pqkey.ContextGuardianPause, chainID, nonce, msg)
}
