package keystore

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// DaemonKey says where a daemon's L1 signing key comes from: a keystore file and its
// passphrase (file, PQBRIDGE_PASSPHRASE or a prompt), or else an unencrypted hex seed file
// that only its owner may read.
type DaemonKey struct {
	SeedFile       string
	Keystore       string
	PassphraseFile string
}

// Register adds -<seedFlag>, -keystore and -passphrase-file to fs; what names the key in the
// help text ("the sequencer's").
func (d *DaemonKey) Register(fs *flag.FlagSet, seedFlag, what string) {
	fs.StringVar(&d.SeedFile, seedFlag, "", "file holding "+what+" ML-DSA-65 seed in hex (unencrypted, mode 0600); instead of -keystore")
	fs.StringVar(&d.Keystore, "keystore", "", "keystore file holding "+what+" L1 key (encrypted; passphrase from -passphrase-file, "+PassphraseEnv+" or a prompt)")
	fs.StringVar(&d.PassphraseFile, "passphrase-file", "", "file holding the -keystore passphrase")
}

// Load reads the key from the keystore if one is named, else from the seed file. seedFlag
// names the seed file's flag in errors.
func (d *DaemonKey) Load(seedFlag string) (*pqkey.PrivateKey, error) {
	switch {
	case d.Keystore != "" && d.SeedFile != "":
		return nil, fmt.Errorf("-keystore and -%s exclude each other", seedFlag)
	case d.Keystore != "":
		pass, err := Passphrase(PassphraseSource{File: d.PassphraseFile, LookupEnv: os.LookupEnv, Terminal: StdinTerminal(),
			Prompt: "Passphrase for " + d.Keystore + ": "})
		if err != nil {
			return nil, err
		}
		defer clear(pass)
		k, err := Load(d.Keystore, pass)
		if err != nil {
			return nil, err
		}
		return k.L1()
	case d.SeedFile != "":
		return ReadSeedFile(d.SeedFile)
	default:
		return nil, fmt.Errorf("-%s or -keystore is required", seedFlag)
	}
}

// ReadSeedFile reads an unencrypted hex ML-DSA-65 seed from a file only its owner can read.
func ReadSeedFile(path string) (*pqkey.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %v: want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != pqkey.SeedSize {
		return nil, errors.Join(fmt.Errorf("key file %s: want %d hex-encoded bytes", path, pqkey.SeedSize), err)
	}
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte(raw)), nil
}

// ReadPublicKeyFile reads a hex ML-DSA-65 public key (the L1 validator's, which pins a node's
// replies).
func ReadPublicKeyFile(path string) (*pqkey.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key file: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("public key file %s: %w", path, err)
	}
	k, err := pqkey.ParsePublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("public key file %s: %w", path, err)
	}
	return k, nil
}
