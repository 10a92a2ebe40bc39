package keystore

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/valset"
)

func TestReadL1Trust(t *testing.T) {
	dir := t.TempDir()
	k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{7}).Public()
	pub := filepath.Join(dir, "validator.pub")
	if err := os.WriteFile(pub, []byte(hex.EncodeToString(k.Bytes())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&valset.File{Validators: []valset.Entry{{PQKey: k.Bytes(), ConsensusKey: make([]byte, 32), Power: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	vals := filepath.Join(dir, "validators.json")
	if err := os.WriteFile(vals, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"validators": [{"pqKey": "0x00", "consensusKey": "0x", "power": 1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if key, set, err := ReadL1Trust("validator-pubkey-file", pub, "l1-validators", ""); err != nil || set != nil || key.Address() != k.Address() {
		t.Fatalf("key file: %v %v %v", key, set, err)
	}
	if key, set, err := ReadL1Trust("validator-pubkey-file", "", "l1-validators", vals); err != nil || key != nil || set.TotalPower() != 3 {
		t.Fatalf("set file: %v %v %v", key, set, err)
	}
	for name, tc := range map[string]struct{ key, set, want string }{
		"both":        {pub, vals, "exclude each other"},
		"neither":     {"", "", "-validator-pubkey-file or -l1-validators is required"},
		"bad set":     {"", bad, "-l1-validators: validator set " + bad + ": validator 0: pqKey"},
		"missing set": {"", filepath.Join(dir, "none.json"), "none.json"},
	} {
		if _, _, err := ReadL1Trust("validator-pubkey-file", tc.key, "l1-validators", tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
