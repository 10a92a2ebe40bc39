package keystore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// testParams keep Argon2id to microseconds; the format is the same at any cost.
var testParams = Params{Time: 1, MemoryKiB: 8, Threads: 1}

var testPassphrase = []byte("correct horse battery staple")

func testKey(t *testing.T, kind Kind, fill byte) Key {
	t.Helper()
	k, err := Generate(kind, bytes.NewReader(bytes.Repeat([]byte{fill}, SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func encrypt(t *testing.T, k Key) []byte {
	t.Helper()
	data, err := Encrypt(k, testPassphrase, testParams)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// editJSON decodes a file into a map, lets edit change it and encodes it again.
func editJSON(t *testing.T, data []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKeystoreRoundTrip(t *testing.T) {
	for _, kind := range []Kind{KindL1, KindL2} {
		t.Run(string(kind), func(t *testing.T) {
			k := testKey(t, kind, 7)
			data := encrypt(t, k)
			got, err := Decrypt(data, testPassphrase)
			if err != nil {
				t.Fatal(err)
			}
			if got != k {
				t.Fatalf("decrypted %s key differs from the one encrypted", got.Kind)
			}
			info, err := Inspect(data)
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := k.Public()
			if info.Format != formatKeystore || info.Version != Version || info.Public != pub || info.KeyID != pub.ID() || *info.Params != testParams {
				t.Fatalf("Inspect = %+v, want keystore v1 of %s with %+v", info, pub, testParams)
			}
			// The clear part names the key as the protocol does.
			var f map[string]any
			_ = json.Unmarshal(data, &f)
			if kind == KindL1 {
				sk, _ := got.L1()
				if f["address"] != sk.Address().Hex() || f["public_key"] != nil {
					t.Fatalf("address %v, public_key %v; want %s and none", f["address"], f["public_key"], sk.Address().Hex())
				}
			} else if f["address"] != nil || f["public_key"] != pub.String() {
				t.Fatalf("address %v, public_key %v; want none and %s", f["address"], f["public_key"], pub)
			}
			if bytes.Contains(data, []byte(hex.EncodeToString(k.Seed[:]))) {
				t.Fatal("the seed appears in the file")
			}
		})
	}
}

// TestKeysWork checks that a stored key is the key: it signs, and its signatures verify under
// the public part in the file.
func TestKeysWork(t *testing.T) {
	l1k, err := Decrypt(encrypt(t, testKey(t, KindL1, 1)), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	sk1, _ := l1k.L1()
	sig, err := sk1.Sign(pqkey.ContextL1Tx, 1, 0, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sk1.Public().Verify(pqkey.ContextL1Tx, 1, 0, []byte("payload"), sig); err != nil {
		t.Fatal(err)
	}

	l2k, err := Decrypt(encrypt(t, testKey(t, KindL2, 2)), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	sk2, _ := l2k.L2()
	tx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 5, Nonce: 0}
	if err := l2.SignTx(sk2, 9, &tx); err != nil {
		t.Fatal(err)
	}
	pub, _ := l2k.Public()
	if !l2.VerifyTx(pub.L2, 9, &tx) {
		t.Fatal("signature of the stored L2 key does not verify under its stored public key")
	}
}

// TestL2SeedDeterministic pins what the L2 format relies on: l2.GenerateKey is a function of
// the 32 bytes it reads.
func TestL2SeedDeterministic(t *testing.T) {
	seed := bytes.Repeat([]byte{0x5a}, SeedSize)
	a, err := l2.GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l2.GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if a.Public() != b.Public() {
		t.Fatal("l2.GenerateKey gives two keys for one seed")
	}
	other, _ := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{0x5b}, SeedSize)))
	if other.Public() == a.Public() {
		t.Fatal("two seeds give one key")
	}
}

func TestDecryptErrors(t *testing.T) {
	a := encrypt(t, testKey(t, KindL1, 1))
	b := encrypt(t, testKey(t, KindL1, 2))
	l2file := encrypt(t, testKey(t, KindL2, 3))
	var fb map[string]any
	_ = json.Unmarshal(b, &fb)

	tests := []struct {
		name       string
		data       []byte
		passphrase string
		want       error
		msg        string
	}{
		{"wrong passphrase", a, "Correct horse battery staple", ErrWrongPassphrase, "keystore: wrong passphrase or corrupted keystore"},
		{"empty passphrase", a, "", ErrWrongPassphrase, "wrong passphrase"},
		{"header of another key", editJSON(t, a, func(m map[string]any) {
			m["address"], m["key_id"] = fb["address"], fb["key_id"]
		}), string(testPassphrase), ErrWrongPassphrase, "wrong passphrase"},
		{"crypto of another key", editJSON(t, a, func(m map[string]any) { m["crypto"] = fb["crypto"] }),
			string(testPassphrase), ErrWrongPassphrase, "wrong passphrase"},
		{"kdf time changed", editJSON(t, a, func(m map[string]any) {
			m["crypto"].(map[string]any)["kdf_params"].(map[string]any)["time"] = 2
		}), string(testPassphrase), ErrWrongPassphrase, "wrong passphrase"},
		{"salt changed", editJSON(t, a, func(m map[string]any) {
			kp := m["crypto"].(map[string]any)["kdf_params"].(map[string]any)
			kp["salt"] = flipHex(kp["salt"].(string))
		}), string(testPassphrase), ErrWrongPassphrase, "wrong passphrase"},
		{"ciphertext bit flipped", editJSON(t, a, func(m map[string]any) {
			c := m["crypto"].(map[string]any)
			c["ciphertext"] = flipHex(c["ciphertext"].(string))
		}), string(testPassphrase), ErrWrongPassphrase, "wrong passphrase"},
		{"key id not of the address", editJSON(t, a, func(m map[string]any) { m["key_id"] = fb["key_id"] }),
			string(testPassphrase), ErrMalformed, "key_id does not match"},
		{"kind changed to l2", editJSON(t, a, func(m map[string]any) { m["kind"] = string(KindL2) }),
			string(testPassphrase), ErrMalformed, "l2-eddsa needs a 64-byte public_key"},
		{"unknown kind", editJSON(t, a, func(m map[string]any) { m["kind"] = "l1-rsa" }),
			string(testPassphrase), ErrWrongKind, `unknown kind "l1-rsa"`},
		{"version 2", editJSON(t, a, func(m map[string]any) { m["version"] = 2 }),
			string(testPassphrase), ErrUnsupportedVersion, "pqbridge-keystore version 2, this build reads version 1"},
		{"not a keystore", []byte(`{"format":"pem","version":1}`), string(testPassphrase), ErrMalformed, `format "pem"`},
		{"a share file", shareFile(t), string(testPassphrase), ErrMalformed, `format "pqbridge-key-share", want "pqbridge-keystore"`},
		{"empty", nil, string(testPassphrase), ErrMalformed, "malformed file"},
		{"truncated to half", a[:len(a)/2], string(testPassphrase), ErrMalformed, "unexpected end of JSON input"},
		{"truncated by one byte", a[:len(a)-1], string(testPassphrase), ErrMalformed, "unexpected end of JSON input"},
		{"trailing data", append(append([]byte{}, a...), "{}"...), string(testPassphrase), ErrMalformed, "malformed file"},
		{"unknown field", editJSON(t, a, func(m map[string]any) { m["comment"] = "x" }),
			string(testPassphrase), ErrMalformed, `unknown field "comment"`},
		{"ciphertext not hex", editJSON(t, a, func(m map[string]any) { m["crypto"].(map[string]any)["ciphertext"] = "zz" }),
			string(testPassphrase), ErrMalformed, "bad hex"},
		{"ciphertext truncated", editJSON(t, a, func(m map[string]any) {
			c := m["crypto"].(map[string]any)
			c["ciphertext"] = c["ciphertext"].(string)[:40]
		}), string(testPassphrase), ErrMalformed, "20-byte ciphertext, want 48"},
		{"other cipher", editJSON(t, a, func(m map[string]any) { m["crypto"].(map[string]any)["cipher"] = "aes-128-ctr" }),
			string(testPassphrase), ErrMalformed, `cipher "aes-128-ctr"`},
		// Refused before Argon2id runs: a file cannot make the reader allocate 8 GiB.
		{"kdf memory beyond the limit", editJSON(t, a, func(m map[string]any) {
			m["crypto"].(map[string]any)["kdf_params"].(map[string]any)["memory_kib"] = 8 << 20
		}), string(testPassphrase), ErrBadParams, "argon2id memory 8388608 KiB"},
		{"kdf threads zero", editJSON(t, a, func(m map[string]any) {
			m["crypto"].(map[string]any)["kdf_params"].(map[string]any)["threads"] = 0
		}), string(testPassphrase), ErrBadParams, "argon2id threads 0"},
		{"l2 file, address added", editJSON(t, l2file, func(m map[string]any) { m["address"] = fb["address"] }),
			string(testPassphrase), ErrMalformed, "needs a 64-byte public_key and no address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decrypt(tt.data, []byte(tt.passphrase))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
			if tt.passphrase != "" && strings.Contains(err.Error(), tt.passphrase) {
				t.Fatal("the error contains the passphrase")
			}
		})
	}
}

// flipHex changes the last hex digit of s.
func flipHex(s string) string {
	last := s[len(s)-1]
	if last == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

func shareFile(t *testing.T) []byte {
	t.Helper()
	shares, err := Split(testKey(t, KindL1, 1), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	data, err := shares[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestKeyDoesNotPrintItsSeed(t *testing.T) {
	k := testKey(t, KindL1, 0xee)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, k); got != "keystore.Key{l1-mldsa65}" {
			t.Fatalf("%s of a key prints %q", verb, got)
		}
	}
}

func TestWrongKind(t *testing.T) {
	l2k, err := Decrypt(encrypt(t, testKey(t, KindL2, 3)), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2k.L1(); !errors.Is(err, ErrWrongKind) || err.Error() != "keystore: wrong kind of key: have l2-eddsa, want l1-mldsa65" {
		t.Fatalf("L1() of an L2 key: %v", err)
	}
	l1k := testKey(t, KindL1, 1)
	if _, err := l1k.L2(); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("L2() of an L1 key: %v", err)
	}
	if _, err := Generate("l3-bls", nil); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("Generate of an unknown kind: %v", err)
	}
}

func TestEncryptRefuses(t *testing.T) {
	k := testKey(t, KindL1, 1)
	tests := []struct {
		name       string
		passphrase []byte
		params     Params
		want       error
	}{
		{"empty passphrase", nil, testParams, ErrNoPassphrase},
		{"zero time", testPassphrase, Params{Time: 0, MemoryKiB: 8, Threads: 1}, ErrBadParams},
		{"memory below 8 KiB per lane", testPassphrase, Params{Time: 1, MemoryKiB: 15, Threads: 2}, ErrBadParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Encrypt(k, tt.passphrase, tt.params); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	if err := DefaultParams().check(); err != nil {
		t.Fatalf("default params: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "operator.json")
	k := testKey(t, KindL1, 4)
	if err := Save(path, k, testPassphrase, testParams); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	got, err := Load(path, testPassphrase)
	if err != nil || got != k {
		t.Fatalf("Load: %v", err)
	}
	if err := Save(path, testKey(t, KindL1, 5), testPassphrase, testParams); !errors.Is(err, ErrExists) {
		t.Fatalf("second Save over the file: %v, want ErrExists", err)
	}
	if got, _ := Load(path, testPassphrase); got != k {
		t.Fatal("the refused Save changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the directory, want only operator.json", len(entries))
	}
	if _, err := Load(path, []byte("nope")); !errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load with a wrong passphrase: %v", err)
	}
}

// FuzzDecrypt feeds the keystore decoder arbitrary files. Files asking for more than a small
// Argon2id cost are only parsed, so that the fuzzer explores the format, not the KDF.
func FuzzDecrypt(f *testing.F) {
	for _, kind := range []Kind{KindL1, KindL2} {
		k, _ := Generate(kind, bytes.NewReader(bytes.Repeat([]byte{9}, SeedSize)))
		data, err := Encrypt(k, testPassphrase, testParams)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format":"pqbridge-keystore","version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, pub, err := decodeKeystore(data)
		if _, ierr := Inspect(data); (err == nil) != (ierr == nil) {
			t.Fatalf("decode error %v but Inspect error %v", err, ierr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) && !errors.Is(err, ErrWrongKind) {
				t.Fatalf("decode error of an unexpected class: %v", err)
			}
			return
		}
		if p := file.Crypto.params(); p.MemoryKiB > 64 || p.Time > 2 {
			return
		}
		k, err := Decrypt(data, testPassphrase)
		if err != nil {
			if !errors.Is(err, ErrWrongPassphrase) && !errors.Is(err, ErrKeyMismatch) {
				t.Fatalf("decrypt error of an unexpected class: %v", err)
			}
			return
		}
		if got, _ := k.Public(); got != pub {
			t.Fatalf("decrypted a key of %s from a file of %s", got, pub)
		}
	})
}

// BenchmarkDecryptDefault measures what a passphrase guess costs with the default Argon2id
// parameters: one Decrypt.
func BenchmarkDecryptDefault(b *testing.B) {
	k, _ := Generate(KindL1, nil)
	data, err := Encrypt(k, testPassphrase, DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Decrypt(data, testPassphrase); err != nil {
			b.Fatal(err)
		}
	}
}
