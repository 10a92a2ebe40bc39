package keystore

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// PassphraseEnv is the environment variable a passphrase may come from.
const PassphraseEnv = "PQBRIDGE_PASSPHRASE"

// maxPassphraseFile bounds a passphrase file: a passphrase is a line, not a document.
const maxPassphraseFile = 4 << 10

// PassphraseSource says where a passphrase comes from. Passphrase takes the first one set:
// File, then PQBRIDGE_PASSPHRASE (as LookupEnv reports it), then a prompt on Terminal.
type PassphraseSource struct {
	File      string                      // --passphrase-file: its content, less one trailing newline
	LookupEnv func(string) (string, bool) // os.LookupEnv in the binaries; nil: no variable
	Terminal  Terminal                    // StdinTerminal() in the binaries; nil: no prompt
	Prompt    string                      // e.g. "Passphrase for key 0x1234…: "
	Confirm   bool                        // prompt twice and require the same answer (new keys)
}

// Terminal reads a passphrase interactively without echoing it.
type Terminal interface {
	ReadPassword(prompt string) ([]byte, error)
}

// Passphrase returns the passphrase from the first source set in src. It never returns an
// empty passphrase, and no error contains the passphrase.
func Passphrase(src PassphraseSource) ([]byte, error) {
	var (
		p   []byte
		err error
	)
	switch env, ok := lookup(src.LookupEnv); {
	case src.File != "":
		p, err = readPassphraseFile(src.File)
	case ok:
		p = []byte(env)
	case src.Terminal != nil:
		p, err = prompt(src)
	default:
		return nil, fmt.Errorf("%w: use --passphrase-file, set %s, or run on a terminal", ErrNoPassphrase, PassphraseEnv)
	}
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: the passphrase is empty", ErrNoPassphrase)
	}
	return p, nil
}

func lookup(f func(string) (string, bool)) (string, bool) {
	if f == nil {
		return "", false
	}
	return f(PassphraseEnv)
}

func readPassphraseFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: reading passphrase file %s: %w", path, err)
	}
	if len(b) > maxPassphraseFile {
		return nil, fmt.Errorf("keystore: passphrase file %s is larger than %d bytes", path, maxPassphraseFile)
	}
	// Only the newline an editor or `echo` adds: spaces may be part of the passphrase.
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r")), nil
}

func prompt(src PassphraseSource) ([]byte, error) {
	text := src.Prompt
	if text == "" {
		text = "Passphrase: "
	}
	p, err := src.Terminal.ReadPassword(text)
	if err != nil {
		return nil, fmt.Errorf("keystore: reading passphrase: %w", err)
	}
	if !src.Confirm {
		return p, nil
	}
	again, err := src.Terminal.ReadPassword("Repeat " + text)
	if err != nil {
		return nil, fmt.Errorf("keystore: reading passphrase: %w", err)
	}
	defer clear(again)
	if subtle.ConstantTimeCompare(p, again) != 1 {
		clear(p)
		return nil, fmt.Errorf("%w: the passphrases do not match", ErrNoPassphrase)
	}
	return p, nil
}

// StdinTerminal is the process's terminal — prompt on stderr, passphrase read from stdin with
// echo off — or nil if stdin is not a terminal.
func StdinTerminal() Terminal {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil
	}
	return stdinTerminal{}
}

type stdinTerminal struct{}

func (stdinTerminal) ReadPassword(prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	defer fmt.Fprintln(os.Stderr)
	return term.ReadPassword(int(os.Stdin.Fd()))
}
