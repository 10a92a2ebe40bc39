package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func split(t *testing.T, k Key, threshold, total int) []Share {
	t.Helper()
	shares, err := Split(k, threshold, total)
	if err != nil {
		t.Fatal(err)
	}
	return shares
}

// pick returns copies of the shares with the given indices, in that order.
func pick(shares []Share, indices ...int) []Share {
	out := make([]Share, len(indices))
	for i, idx := range indices {
		out[i] = shares[idx-1]
	}
	return out
}

// subsets returns every subset of {1..n}, as index lists.
func subsets(n int) [][]int {
	var out [][]int
	for mask := 1; mask < 1<<n; mask++ {
		var s []int
		for i := range n {
			if mask&(1<<i) != 0 {
				s = append(s, i+1)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestCombineEverySubset: every subset of K or more of a 3-of-5 split gives the key back, in
// any order; every smaller subset is too few.
func TestCombineEverySubset(t *testing.T) {
	for _, kind := range []Kind{KindL1, KindL2} {
		t.Run(string(kind), func(t *testing.T) {
			k := testKey(t, kind, 0xa5)
			shares := split(t, k, 3, 5)
			recombined, refused := 0, 0
			for _, s := range subsets(5) {
				got, err := Combine(pick(shares, s...))
				if len(s) < 3 {
					want := fmt.Sprintf("keystore: too few shares: have %d, need 3", len(s))
					if !errors.Is(err, ErrTooFewShares) || err.Error() != want {
						t.Fatalf("shares %v: error %v, want %q", s, err, want)
					}
					refused++
					continue
				}
				if err != nil {
					t.Fatalf("shares %v: %v", s, err)
				}
				if got != k {
					t.Fatalf("shares %v recombine to another key", s)
				}
				reversed := make([]int, len(s))
				for i := range s {
					reversed[i] = s[len(s)-1-i]
				}
				if got, err := Combine(pick(shares, reversed...)); err != nil || got != k {
					t.Fatalf("shares %v: %v", reversed, err)
				}
				recombined++
			}
			// C(5,3)+C(5,4)+C(5,5) = 16 subsets recombine; 5+10 = 15 are too few.
			if recombined != 16 || refused != 15 {
				t.Fatalf("%d subsets recombined, %d refused; want 16 and 15", recombined, refused)
			}
		})
	}
}

// TestSharesRevealNothingAlone is a sanity check of the encoding, not of Shamir: no share value
// contains either half of the seed.
func TestSharesRevealNothingAlone(t *testing.T) {
	k := testKey(t, KindL1, 0x11)
	for _, s := range split(t, k, 2, 3) {
		for h := range 2 {
			if string(s.value[h*scalarSize:h*scalarSize+halfSize]) == string(k.Seed[h*halfSize:(h+1)*halfSize]) {
				t.Fatalf("share %d holds half %d of the seed", s.Index, h)
			}
		}
	}
}

func TestSplitRefuses(t *testing.T) {
	k := testKey(t, KindL2, 1)
	for _, tt := range []struct{ k, n int }{{1, 3}, {0, 0}, {4, 3}, {2, 256}} {
		if _, err := Split(k, tt.k, tt.n); !errors.Is(err, ErrBadParams) {
			t.Fatalf("Split %d-of-%d: %v, want ErrBadParams", tt.k, tt.n, err)
		}
	}
	if _, err := Split(Key{Kind: "l9"}, 2, 3); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("Split of an unknown kind: %v", err)
	}
}

// reseal recomputes every commitment and the split ID after an edit, as a forger would.
func reseal(shares []Share) {
	commitments := make([][32]byte, len(shares))
	for i := range shares {
		commitments[i] = shares[i].commitment()
	}
	id := splitID(shares[0].Public.Kind, shares[0].KeyID, shares[0].Threshold, shares[0].Total, commitments)
	for i := range shares {
		shares[i].Commitments, shares[i].SplitID = commitments, id
	}
}

func TestCombineErrors(t *testing.T) {
	keyA, keyB := testKey(t, KindL1, 1), testKey(t, KindL1, 2)
	a, b := split(t, keyA, 3, 5), split(t, keyB, 3, 5)
	a2 := split(t, keyA, 3, 5) // another split of the same key
	pubB, _ := keyB.Public()

	tests := []struct {
		name   string
		shares func() []Share
		want   error
		msgs   []string
	}{
		{"too few", func() []Share { return pick(a, 1, 4) }, ErrTooFewShares,
			[]string{"too few shares: have 2, need 3"}},
		{"none", func() []Share { return nil }, ErrTooFewShares, []string{"no shares"}},
		{"value bit flipped", func() []Share {
			s := pick(a, 1, 2, 3)
			s[1].value[5] ^= 0x10
			return s
		}, ErrTamperedShare, []string{"share 2: value does not match its commitment"}},
		{"nonce bit flipped", func() []Share {
			s := pick(a, 1, 2, 3)
			s[2].nonce[0] ^= 1
			return s
		}, ErrTamperedShare, []string{"share 3: value does not match its commitment"}},
		{"another share's commitment flipped", func() []Share {
			s := pick(a, 1, 2, 3)
			s[0].Commitments = append([][32]byte{}, s[0].Commitments...)
			s[0].Commitments[4][0] ^= 1
			return s
		}, ErrTamperedShare, []string{"share 1: commitments, K or N do not match its split ID"}},
		{"threshold lowered", func() []Share {
			s := pick(a, 1, 2, 3)
			s[2].Threshold = 2
			return s
		}, ErrTamperedShare, []string{"share 3: commitments, K or N do not match its split ID"}},
		{"index changed", func() []Share {
			s := pick(a, 1, 2, 3)
			s[1].Index = 4
			return s
		}, ErrTamperedShare, []string{"share 4: value does not match its commitment"}},
		{"public part changed", func() []Share {
			s := pick(a, 1, 2, 3)
			s[0].Public = pubB
			return s
		}, ErrTamperedShare, []string{"share 1: key ID does not match its public part " + pubB.String()}},
		{"two shares tampered, both named", func() []Share {
			s := pick(a, 1, 2, 3)
			s[0].value[0] ^= 1
			s[2].value[40] ^= 1
			return s
		}, ErrTamperedShare, []string{"share 1: value does not match", "share 3: value does not match"}},
		{"share re-made consistently by a forger", func() []Share {
			forged := append([]Share{}, a...)
			forged[2].value[3] ^= 1
			reseal(forged)
			return []Share{a[0], a[1], forged[2]}
		}, ErrMismatchedShares, []string{"shares of 2 different splits of key " + a[0].Public.String(), "share 1, share 2; ", ": share 3"}},
		{"shares of two keys", func() []Share { return []Share{a[0], a[1], b[2]} }, ErrMismatchedShares,
			[]string{"shares of 2 different keys: " + a[0].KeyID.short(), "share 1, share 2; " + b[0].KeyID.short() + " (" + pubB.String() + "): share 3"}},
		{"two splits of one key", func() []Share { return []Share{a[0], a2[1], a[2]} }, ErrMismatchedShares,
			[]string{"shares of 2 different splits", "share 1, share 3; ", ": share 2"}},
		{"duplicated share", func() []Share { return pick(a, 1, 2, 2) }, ErrDuplicateShare,
			[]string{"duplicate share: share 2 given twice"}},
		{"duplicated up to K", func() []Share { return pick(a, 5, 5, 5, 1) }, ErrDuplicateShare,
			[]string{"share 5 given twice"}},
		{"whole set forged for another key", func() []Share {
			forged := append([]Share{}, a...)
			for i := range forged {
				forged[i].Public, forged[i].KeyID = pubB, pubB.ID()
			}
			reseal(forged)
			return forged[:3]
		}, ErrRecombinedMismatch, []string{"shares are of " + pubB.String() + ", recombined seed gives " + a[0].Public.String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Combine(tt.shares())
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			for _, m := range tt.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("error %q does not say %q", err, m)
				}
			}
		})
	}
	// The fixtures are untouched: a's shares still recombine.
	if k, err := Combine(pick(a, 1, 2, 3)); err != nil || k != keyA {
		t.Fatalf("the shares after the table: %v", err)
	}
}

// TestShareFiles walks the custody flow: split, write one file per custodian (some encrypted,
// each with its own passphrase), load them back and recombine.
func TestShareFiles(t *testing.T) {
	dir := t.TempDir()
	k := testKey(t, KindL2, 0x42)
	shares := split(t, k, 2, 3)
	passphrases := map[string][]byte{}
	var paths []string
	for i := range shares {
		path := filepath.Join(dir, fmt.Sprintf("share-%d.json", i+1))
		var data []byte
		var err error
		if i == 0 {
			data, err = shares[i].Marshal()
		} else {
			passphrases[path] = []byte(fmt.Sprintf("custodian %d", i+1))
			data, err = shares[i].Encrypt(passphrases[path], testParams)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	pass := func(path string) ([]byte, error) { return passphrases[path], nil }
	loaded, err := LoadShares(paths, pass)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subsets(3) {
		got, err := Combine(pick(loaded, s...))
		if len(s) < 2 {
			if !errors.Is(err, ErrTooFewShares) {
				t.Fatalf("shares %v: %v", s, err)
			}
			continue
		}
		if err != nil || got != k {
			t.Fatalf("shares %v: %v", s, err)
		}
	}
	for i, path := range paths {
		data, _ := ReadFile(path)
		info, err := Inspect(data)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := k.Public()
		if info.Format != formatShare || info.Public != pub || info.KeyID != pub.ID() || (info.Params != nil) != (i > 0) {
			t.Fatalf("Inspect %s = %+v", path, info)
		}
	}

	// A wrong passphrase for one custodian's file names that file.
	_, err = LoadShares(paths, func(path string) ([]byte, error) {
		if path == paths[2] {
			return []byte("guess"), nil
		}
		return passphrases[path], nil
	})
	if !errors.Is(err, ErrWrongPassphrase) || !strings.HasPrefix(err.Error(), paths[2]+": ") {
		t.Fatalf("wrong passphrase for %s: %v", paths[2], err)
	}
	if _, err := LoadShares(paths, nil); !errors.Is(err, ErrNoPassphrase) || !strings.Contains(err.Error(), paths[1]) {
		t.Fatalf("encrypted shares without passphrases: %v", err)
	}
}

func TestShareFileTampering(t *testing.T) {
	k := testKey(t, KindL1, 0x33)
	shares := split(t, k, 2, 3)
	clearFile, err := shares[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sealedFile, err := shares[1].Encrypt(testPassphrase, testParams)
	if err != nil {
		t.Fatal(err)
	}
	other := split(t, k, 2, 3)
	var otherShare map[string]any
	otherFile, _ := other[1].Encrypt(testPassphrase, testParams)
	_ = json.Unmarshal(otherFile, &otherShare)
	pass := func() ([]byte, error) { return testPassphrase, nil }

	tests := []struct {
		name  string
		data  []byte
		parse error // from ParseShare
		comb  error // from Combine with shares[2], if ParseShare succeeds
		msg   string
	}{
		{"clear value flipped", editJSON(t, clearFile, func(m map[string]any) {
			s := m["share"].(map[string]any)
			s["value"] = flipHex(s["value"].(string))
		}), nil, ErrTamperedShare, "share 1 (custodian.json): value does not match its commitment"},
		{"clear commitment flipped", editJSON(t, clearFile, func(m map[string]any) {
			c := m["commitments"].([]any)
			c[2] = flipHex(c[2].(string))
		}), nil, ErrTamperedShare, "share 1 (custodian.json): commitments, K or N do not match its split ID"},
		{"clear threshold raised", editJSON(t, clearFile, func(m map[string]any) { m["threshold"] = 3 }),
			nil, ErrTamperedShare, "share 1 (custodian.json): commitments, K or N"},
		{"sealed index changed", editJSON(t, sealedFile, func(m map[string]any) { m["index"] = 3 }),
			ErrWrongPassphrase, nil, "custodian.json: keystore: wrong passphrase or corrupted keystore"},
		{"sealed commitments of another split", editJSON(t, sealedFile, func(m map[string]any) {
			m["commitments"], m["split_id"] = otherShare["commitments"], otherShare["split_id"]
		}), ErrWrongPassphrase, nil, "custodian.json: keystore: wrong passphrase"},
		{"sealed and clear", editJSON(t, sealedFile, func(m map[string]any) {
			m["share"] = map[string]any{"value": "00", "nonce": "00"}
		}), ErrMalformed, nil, "exactly one of share and crypto"},
		{"index beyond N", editJSON(t, clearFile, func(m map[string]any) { m["index"] = 4 }),
			ErrMalformed, nil, "share 4 of a 2-of-3 split"},
		{"commitment missing", editJSON(t, clearFile, func(m map[string]any) { m["commitments"] = m["commitments"].([]any)[:2] }),
			ErrMalformed, nil, "commitments of the wrong size"},
		{"truncated", clearFile[:len(clearFile)-10], ErrMalformed, nil, "unexpected end of JSON input"},
		{"version 2", editJSON(t, clearFile, func(m map[string]any) { m["version"] = 2 }),
			ErrUnsupportedVersion, nil, "pqbridge-key-share version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseShare(tt.data, "custodian.json", pass)
			if tt.parse != nil {
				if !errors.Is(err, tt.parse) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("ParseShare: %v, want %v saying %q", err, tt.parse, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseShare: %v", err)
			}
			_, err = Combine([]Share{s, shares[2]})
			if !errors.Is(err, tt.comb) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Combine: %v, want %v saying %q", err, tt.comb, tt.msg)
			}
		})
	}
}

// FuzzParseShare feeds the share decoder arbitrary files; whatever parses must either verify
// or fail Verify with ErrTamperedShare, never panic.
func FuzzParseShare(f *testing.F) {
	k, _ := Generate(KindL2, strings.NewReader(strings.Repeat("s", SeedSize)))
	shares, err := Split(k, 2, 3)
	if err != nil {
		f.Fatal(err)
	}
	data, _ := shares[0].Marshal()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseShare(data, "fuzz", nil)
		if err != nil {
			return
		}
		if err := s.Verify(); err != nil && !errors.Is(err, ErrTamperedShare) {
			t.Fatalf("Verify: %v", err)
		}
		_, _ = Combine([]Share{s, shares[1]})
	})
}
