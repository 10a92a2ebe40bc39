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
// passphrase (file, PQBRIDGE_PASSPHRASE or a prompt); K-of-N threshold shares (Split), combined
// in memory at start so the whole key never touches disk; or else an unencrypted hex seed file
// that only its owner may read (development).
type DaemonKey struct {
	SeedFile       string
	Keystore       string
	Shares         string // comma-separated share files
	PassphraseFile string
}

// Register adds -<seedFlag>, -keystore and -passphrase-file to fs; what names the key in the
// help text ("the sequencer's").
func (d *DaemonKey) Register(fs *flag.FlagSet, seedFlag, what string) {
	fs.StringVar(&d.SeedFile, seedFlag, "", "file holding "+what+" ML-DSA-65 seed in hex (unencrypted, mode 0600); instead of -keystore")
	fs.StringVar(&d.Keystore, "keystore", "", "keystore file holding "+what+" L1 key (encrypted; passphrase from -passphrase-file, "+PassphraseEnv+" or a prompt)")
	fs.StringVar(&d.Shares, "key-shares", "", "comma-separated share files of "+what+" L1 key (pqwallet key split): at least K of one split, combined in memory at start; encrypted shares use -passphrase-file, "+PassphraseEnv+" or a prompt")
	fs.StringVar(&d.PassphraseFile, "passphrase-file", "", "file holding the passphrase of -keystore or of encrypted -key-shares")
}

// Load reads the key from the keystore if one is named, else from the seed file. seedFlag
// names the seed file's flag in errors.
func (d *DaemonKey) Load(seedFlag string) (*pqkey.PrivateKey, error) {
	given := 0
	for _, v := range []string{d.Keystore, d.SeedFile, d.Shares} {
		if v != "" {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, fmt.Errorf("give one of -keystore, -key-shares and -%s", seedFlag)
	case d.Shares != "":
		return d.loadShares()
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
		return nil, fmt.Errorf("-%s, -keystore or -key-shares is required", seedFlag)
	}
}

// loadShares combines the -key-shares files in memory. One passphrase serves every encrypted
// share; it is asked for once, and only if a share is encrypted.
func (d *DaemonKey) loadShares() (*pqkey.PrivateKey, error) {
	var paths []string
	for p := range strings.SplitSeq(d.Shares, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	var pass []byte
	defer func() { clear(pass) }()
	passphrase := func(path string) ([]byte, error) {
		if pass == nil {
			p, err := Passphrase(PassphraseSource{File: d.PassphraseFile, LookupEnv: os.LookupEnv, Terminal: StdinTerminal(),
				Prompt: "Passphrase for the key shares: "})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			pass = p
		}
		return pass, nil
	}
	shares, err := LoadShares(paths, passphrase)
	if err != nil {
		return nil, err
	}
	k, err := Combine(shares)
	if err != nil {
		return nil, err
	}
	defer clear(k.Seed[:])
	return k.L1()
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
