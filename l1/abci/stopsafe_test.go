package abci

import (
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
)

// TestStopSafeDB: a read after Close finds nothing instead of the error CometBFT panics on.
func TestStopSafeDB(t *testing.T) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(t.TempDir())
	cfg.DBBackend = "goleveldb"
	db, err := stopSafeDBProvider(&cmtcfg.DBContext{ID: "blockstore", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetSync([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get before Close: %q %v", v, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("k")); err != nil || v != nil {
		t.Fatalf("Get after Close: %q %v, want nothing and no error", v, err)
	}
	if ok, err := db.Has([]byte("k")); err != nil || ok {
		t.Fatalf("Has after Close: %v %v, want false and no error", ok, err)
	}
	if err := db.Set([]byte("k"), []byte("w")); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}
