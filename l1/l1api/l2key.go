package l1api

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// MethodL2Key returns the ML-DSA-65 public key L1 registered for an L2 key hash (L2KeyRef ->
// bytes; not_found if no deposit registered it).
const MethodL2Key = "l1_l2Key"

// L2KeyRef names a key of a rollup's ML-DSA key registry by its hash kh = l2.MLDSAKeyHash(pub).
type L2KeyRef struct {
	RollupID uint64
	KH       [32]byte
}

// Errors of ML-DSA L2 accounts (docs/l1.md §5).
var (
	// ErrMLDSAInValidityBatch: a validity batch holds a type 5/6 transaction, which the circuit
	// cannot prove: a batch with one is optimistic only.
	ErrMLDSAInValidityBatch = errors.New("ML-DSA L2 transaction in a validity batch")
	// ErrUnknownL2Key: no deposit registered the ML-DSA key of an L2 key hash.
	ErrUnknownL2Key = errors.New("unknown ML-DSA L2 key")
)

// ExodusMLDSAPayload is what an ML-DSA account signs for an exodus withdrawal: the 32-byte
// big-endian form of the same message an EdDSA account signs (l2.SignedMessage of ExodusMessage
// under the rollup's L2 chain ID).
func ExodusMLDSAPayload(l2ChainID uint64, index uint32, balance uint64, recipient common.Address) [32]byte {
	msg := ExodusMessage(index, balance, recipient)
	m := l2.SignedMessage(l2ChainID, &msg)
	return m.Bytes()
}

// SignExodusMLDSA is an ML-DSA account's exodus signature (ExodusWithdrawal.MLDSASig): ML-DSA-65
// under pqkey.ContextL2Exodus, the L2 chain ID and ExodusNonce, over ExodusMLDSAPayload.
func SignExodusMLDSA(k *pqkey.PrivateKey, l2ChainID uint64, index uint32, balance uint64, recipient common.Address) ([]byte, error) {
	p := ExodusMLDSAPayload(l2ChainID, index, balance, recipient)
	return k.Sign(pqkey.ContextL2Exodus, l2ChainID, ExodusNonce, p[:])
}

// VerifyExodusMLDSA checks SignExodusMLDSA's signature under the registered key pub.
func VerifyExodusMLDSA(pub []byte, l2ChainID uint64, index uint32, balance uint64, recipient common.Address, sig []byte) error {
	pk, err := pqkey.ParsePublicKey(pub)
	if err != nil {
		return err
	}
	p := ExodusMLDSAPayload(l2ChainID, index, balance, recipient)
	return pk.Verify(pqkey.ContextL2Exodus, l2ChainID, ExodusNonce, p[:], sig)
}
