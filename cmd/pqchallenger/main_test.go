package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

func TestLoadKey(t *testing.T) {
	seed := [pqkey.SeedSize]byte{1, 2, 3}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(seed[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKey(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("group-readable key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := loadKey(path)
	if err != nil || k.Address() != pqkey.NewKeyFromSeed(seed).Address() {
		t.Fatalf("loaded %v %v", k, err)
	}
}

func TestLoadValidator(t *testing.T) {
	pub := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{9}).Public()
	path := filepath.Join(t.TempDir(), "validator.pub")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(pub.Bytes())), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadValidator(path)
	if err != nil || got.Address() != pub.Address() {
		t.Fatalf("loaded %v %v", got, err)
	}
	if err := os.WriteFile(path, []byte("00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadValidator(path); err == nil {
		t.Fatal("a truncated key was accepted")
	}
}
