package quicrpc

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// signer makes envelope signatures. In production it is always an ML-DSA-65 key; the interface
// exists so the benchmarks can measure an Ed25519 envelope over exactly the same code path.
type signer interface {
	Sign(ctx pqkey.Context, chainID, nonce uint64, payload []byte) ([]byte, error)
	publicKey() verifier
}

// verifier checks envelope signatures of one key.
type verifier interface {
	Verify(ctx pqkey.Context, chainID, nonce uint64, payload, sig []byte) error
	Bytes() []byte
	Address() common.Address
}

// scheme is a signature scheme's sizes and key parser.
type scheme struct {
	publicKeySize int
	signatureSize int
	parse         func([]byte) (verifier, error)
}

var mldsa65 = &scheme{
	publicKeySize: pqkey.PublicKeySize,
	signatureSize: pqkey.SignatureSize,
	parse: func(b []byte) (verifier, error) {
		k, err := pqkey.ParsePublicKey(b)
		if err != nil {
			return nil, err
		}
		return k, nil
	},
}

type mldsaSigner struct{ *pqkey.PrivateKey }

func (s mldsaSigner) publicKey() verifier { return s.Public() }
