package valset

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
)

func TestReadSet(t *testing.T) {
	dir := t.TempDir()
	var f File
	for i := range 3 {
		k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{byte(i + 1)})
		f.Validators = append(f.Validators, Entry{PQKey: k.Public().Bytes(), ConsensusKey: make([]byte, 32), Power: uint64(10 + i)})
	}
	b, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "vals.json")
	if err := os.WriteFile(good, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSet(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Validators()) != 3 || s.TotalPower() != 33 {
		t.Fatalf("set of %d, power %d; want 3, 33", len(s.Validators()), s.TotalPower())
	}
	// "stake" is the current name of the same number.
	staked := filepath.Join(dir, "staked.json")
	if err := os.WriteFile(staked, []byte(strings.ReplaceAll(string(b), `"power"`, `"stake"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s2, err := ReadSet(staked); err != nil || s2.Hash() != s.Hash() {
		t.Fatalf("the set with stake: %v; want the same set", err)
	}

	cases := map[string]struct {
		body string
		want string
		is   error
	}{
		"empty":           {`{"validators": []}`, "lists no validator", nil},
		"unknown":         {`{"validators": [], "x": 1}`, "unknown field", nil},
		"trailing":        {string(b) + "{}", "data after the object", nil},
		"badkey":          {`{"validators": [{"pqKey": "0x01", "consensusKey": "0x", "power": 1}]}`, "validator 0: pqKey", nil},
		"nopower":         {strings.Replace(string(b), `"power":10`, `"power":0`, 1), "has no stake", qc.ErrBadSet},
		"stake and power": {strings.Replace(string(b), `"power":10`, `"power":10,"stake":11`, 1), "validator 0: stake 11 and power 10", nil},
	}
	for name, tc := range cases {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadSet(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming %s and %q", name, err, p, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want %v", name, err, tc.is)
		}
	}
	if _, err := ReadSet(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}
