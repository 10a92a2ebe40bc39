package keystore

import (
	"fmt"
	"os"
	"strings"
)

// MinTokenLen is the shortest bearer token ReadTokenFile accepts.
const MinTokenLen = 16

// ReadTokenFile reads a bearer token (an API's shared secret: the sequencer's admin namespace,
// the prover API) from a file only its owner can read; surrounding white space is dropped.
func ReadTokenFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %v: want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < MinTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("token file %s: want one token of at least %d characters, no white space", path, MinTokenLen)
	}
	return tok, nil
}
