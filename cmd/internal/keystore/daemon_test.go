package keystore

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

func TestReadSeedFile(t *testing.T) {
	seed := [pqkey.SeedSize]byte{1, 2, 3}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(seed[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSeedFile(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("group-readable key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := ReadSeedFile(path)
	if err != nil || k.Address() != pqkey.NewKeyFromSeed(seed).Address() {
		t.Fatalf("loaded %v %v", k, err)
	}
}

func TestReadPublicKeyFile(t *testing.T) {
	pub := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{9}).Public()
	path := filepath.Join(t.TempDir(), "validator.pub")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(pub.Bytes())), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPublicKeyFile(path)
	if err != nil || got.Address() != pub.Address() {
		t.Fatalf("loaded %v %v", got, err)
	}
	if err := os.WriteFile(path, []byte("00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPublicKeyFile(path); err == nil {
		t.Fatal("a truncated key was accepted")
	}
}

// TestDaemonKey: a daemon's key from a keystore (passphrase file) or a seed file, never both.
func TestDaemonKey(t *testing.T) {
	dir := t.TempDir()
	want := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{7})
	ks, pass := filepath.Join(dir, "seq.json"), filepath.Join(dir, "pass")
	if err := Save(ks, FromL1(want), []byte("correct horse"), Params{Time: 1, MemoryKiB: 64, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, "seed")
	s := want.Seed()
	if err := os.WriteFile(seed, []byte(hex.EncodeToString(s[:])), 0o600); err != nil {
		t.Fatal(err)
	}
	// Shares: 2 of 3, one of them encrypted; and one share of another key's split.
	shares, err := Split(FromL1(want), 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Split(FromL1(pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{8})), 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	var sh [4]string
	for i, s := range []Share{shares[0], shares[1], shares[2], other[0]} {
		var b []byte
		if i == 1 {
			b, err = s.Encrypt([]byte("correct horse"), Params{Time: 1, MemoryKiB: 64, Threads: 1})
		} else {
			b, err = s.Marshal()
		}
		if err != nil {
			t.Fatal(err)
		}
		sh[i] = filepath.Join(dir, fmt.Sprintf("share%d.json", i))
		if err := os.WriteFile(sh[i], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"keystore", []string{"-keystore", ks, "-passphrase-file", pass}, ""},
		{"seed file", []string{"-key-file", seed}, ""},
		{"shares", []string{"-key-shares", sh[0] + "," + sh[2]}, ""},
		{"encrypted share", []string{"-key-shares", sh[1] + ", " + sh[2], "-passphrase-file", pass}, ""},
		{"too few shares", []string{"-key-shares", sh[2]}, "need 2"},
		{"mixed splits", []string{"-key-shares", sh[0] + "," + sh[3]}, "different keys"},
		{"both", []string{"-keystore", ks, "-key-file", seed}, "give one of"},
		{"neither", nil, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d DaemonKey
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			d.Register(fs, "key-file", "the test's")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			k, err := d.Load("key-file")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || k.Address() != want.Address() {
				t.Fatalf("loaded %v %v", k, err)
			}
		})
	}
}
