package keystore

import (
	"fmt"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/valset"
)

// ReadL1Trust reads what a daemon pins the L1 nodes' replies to, from exactly one of two flags:
// keyFlag's file, the one validator's public key in hex (a one-node chain), or setFlag's file,
// the validator-set JSON of pql1node -validators (l1/valset), under CometBFT. Errors name the
// flag, the file and what is wrong.
func ReadL1Trust(keyFlag, keyFile, setFlag, setFile string) (*pqkey.PublicKey, *qc.ValidatorSet, error) {
	switch {
	case keyFile != "" && setFile != "":
		return nil, nil, fmt.Errorf("-%s and -%s exclude each other: pin one validator's key or the validator set", keyFlag, setFlag)
	case setFile != "":
		set, err := valset.ReadSet(setFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-%s: %w", setFlag, err)
		}
		return nil, set, nil
	case keyFile != "":
		k, err := ReadPublicKeyFile(keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-%s: %w", keyFlag, err)
		}
		return k, nil, nil
	}
	return nil, nil, fmt.Errorf("-%s or -%s is required: the L1 nodes' replies are checked against the validator's key or the validator set", keyFlag, setFlag)
}
