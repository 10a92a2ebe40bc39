package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/prover"
)

func TestMain(m *testing.M) { os.Exit(proctest.Run(m)) }

func testKey(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x1e, 1: i})
}

// TestInitSeedFile: -init writes a seed file of mode 0600 once and never overwrites it; without
// -init a missing file is an error, and -init is refused with the other key sources.
func TestInitSeedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if _, err := validatorKey(config{key: keystore.DaemonKey{SeedFile: path}}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key without -init: %v, want fs.ErrNotExist", err)
	}
	k, err := validatorKey(config{key: keystore.DaemonKey{SeedFile: path}, initKey: true})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v, want 0600", fi.Mode(), err)
	}
	again, err := validatorKey(config{key: keystore.DaemonKey{SeedFile: path}, initKey: true}) // never overwrites
	if err != nil || again.Address() != k.Address() {
		t.Fatalf("reloaded %v %v, want %v", again.Address(), err, k.Address())
	}
	for _, c := range []config{
		{initKey: true},
		{initKey: true, key: keystore.DaemonKey{SeedFile: path, Keystore: "validator.json"}},
		{initKey: true, key: keystore.DaemonKey{SeedFile: path, Shares: "a.json,b.json"}},
	} {
		if _, err := validatorKey(c); err == nil || !strings.Contains(err.Error(), "-init creates the -validator-key-file seed") {
			t.Fatalf("-init with %+v: %v", c.key, err)
		}
	}
	if _, err := validatorKey(config{}); err == nil || !strings.Contains(err.Error(), "-validator-key-file, -keystore or -key-shares is required") {
		t.Fatalf("no key source: %v", err)
	}
}

func TestGenesisFile(t *testing.T) {
	k := testKey(0)
	path := filepath.Join(t.TempDir(), "genesis.json")
	json := `{"timestamp": 5, "alloc": [{"address": "0x0000000000000000000000000000000000000001", "balance": 7}],
		"fees": {"base": 10, "perByte": 2, "batchPerKiB": 30},
		"rollups": [{"l2ChainId": 9, "treeDepth": 8, "batchSize": 4, "challengeWindow": 2, "exodusTimeout": 100}]}`
	if err := os.WriteFile(path, []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	g, rollups, err := genesis(config{chainID: 3, genesisFile: path}, k)
	if err != nil {
		t.Fatal(err)
	}
	if g.ChainID != 3 || g.Timestamp != 5 || len(g.Alloc) != 1 || g.Alloc[0].Balance != 7 || len(rollups) != 1 || rollups[0].L2ChainID != 9 ||
		g.Fees != (chain.Fees{Base: 10, PerByte: 2, BatchPerKiB: 30}) {
		t.Fatalf("genesis %+v rollups %+v", g, rollups)
	}
	if err := os.WriteFile(path, []byte(json+` {"timestamp": 6}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := genesis(config{chainID: 3, genesisFile: path}, k); err == nil || !strings.Contains(err.Error(), "data after the genesis object") {
		t.Fatalf("a genesis file with a second object: %v", err)
	}
	if _, _, err := genesis(config{genesisFile: path, dev: "0x0000000000000000000000000000000000000001"}, k); err == nil {
		t.Fatal("-genesis with -dev accepted")
	}
	if _, _, err := genesis(config{dev: "nope"}, k); err == nil {
		t.Fatal("-dev with a bad address accepted")
	}
}

func TestVerifierWithoutKeysRejects(t *testing.T) {
	v, err := loadVerifier("", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify([32]byte{1}, fr.Element{}, nil); !errors.Is(err, prover.ErrUnknownKey) {
		t.Fatalf("got %v, want prover.ErrUnknownKey", err)
	}
	if _, err := loadVerifier(filepath.Join(t.TempDir(), "missing"), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing verifying-key file was accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadVerifier(bad, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a garbage verifying key was accepted")
	}
}

func TestRegisterGenesisRollupsOnce(t *testing.T) {
	k := testKey(0)
	g := chain.Genesis{ChainID: 3, Validator: k.Public().Bytes()}
	rollups := []chain.RollupConfig{{L2ChainID: 9, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10, ExodusTimeout: 100,
		Sequencers: []common.Address{k.Address()}}}
	n, err := node.New(node.Config{Dir: t.TempDir(), Genesis: g, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	for range 2 { // the second call (a restart before block 1) adds nothing
		if err := registerRollups(n, k, rollups); err != nil {
			t.Fatal(err)
		}
	}
	r, err := n.ProduceBlock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Receipts) != 1 || !r.Receipts[0].OK {
		t.Fatalf("receipts %+v", r.Receipts)
	}
	if got, err := n.Rollup(1); err != nil || got.Config.L2ChainID != 9 {
		t.Fatalf("rollup %+v %v", got, err)
	}
}

// TestStartWithProtectedKey starts the pql1node binary with its validator key from an encrypted
// keystore (passphrase from PQBRIDGE_PASSPHRASE_FILE, the -passphrase-file flag's variable, or
// from PQBRIDGE_PASSPHRASE) and from 2 of 3 key shares (one of them encrypted). Each time the
// validator address it prints is the key's and the node signs with it (a client pinning the key
// gets its status); a wrong passphrase or too few shares stop it with an error naming why.
func TestStartWithProtectedKey(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(proctest.Build(t, "pql1node"), "pql1node")
	want := testKey(1)
	params := keystore.Params{Time: 1, MemoryKiB: 64, Threads: 1} // the tests' costs; files carry theirs
	pass := []byte("correct horse battery staple")
	ks := filepath.Join(dir, "validator.json")
	if err := keystore.Save(ks, keystore.FromL1(want), pass, params); err != nil {
		t.Fatal(err)
	}
	passFile := proctest.WriteFile(t, dir, "passphrase", string(pass)+"\n")
	wrongPassFile := proctest.WriteFile(t, dir, "wrong-passphrase", "tr0ub4dor&3\n")
	shares, err := keystore.Split(keystore.FromL1(want), 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	share1, err := shares[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	share3, err := shares[2].Encrypt(pass, params)
	if err != nil {
		t.Fatal(err)
	}
	shareFiles := proctest.WriteFile(t, dir, "validator.share1.json", string(share1)) + "," +
		proctest.WriteFile(t, dir, "validator.share3.json", string(share3))

	for i, tc := range []struct {
		name string
		args []string
		env  []string
		err  string // the start-up error, "" for a node that serves
	}{
		{"keystore, PQBRIDGE_PASSPHRASE_FILE", []string{"-keystore", ks}, []string{"PQBRIDGE_PASSPHRASE_FILE=" + passFile}, ""},
		{"keystore, " + keystore.PassphraseEnv, []string{"-keystore", ks}, []string{keystore.PassphraseEnv + "=" + string(pass)}, ""},
		{"key shares 2 of 3", []string{"-key-shares", shareFiles}, []string{"PQBRIDGE_PASSPHRASE_FILE=" + passFile}, ""},
		{"keystore, wrong passphrase", []string{"-keystore", ks, "-passphrase-file", wrongPassFile}, nil, "wrong passphrase"},
		{"keystore, no passphrase", []string{"-keystore", ks}, nil, "no passphrase"},
		{"one share of 2", []string{"-key-shares", strings.Split(shareFiles, ",")[0]}, nil, "too few shares: have 1, need 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-datadir", filepath.Join(dir, fmt.Sprint("data", i)), "-listen", "127.0.0.1:0",
				"-chain-id", "5", "-dev", testKey(2).Address().Hex(), "-block-interval", "20ms"}, tc.args...)
			p := proctest.Start(t, bin, tc.env, args...)
			if tc.err != "" {
				select {
				case <-p.Exited():
					var ee *exec.ExitError
					if err := p.Err(); !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(p.Stderr(), tc.err) {
						t.Fatalf("exit %v, stderr %q; want status 1 and %q", err, p.Stderr(), tc.err)
					}
				case <-time.After(proctest.Timeout):
					t.Fatalf("still running, want it to stop with %q", tc.err)
				}
				return
			}
			line := p.Line(t, "listening on ")
			var addr, validator string
			if _, err := fmt.Sscanf(line, "%s validator %s", &addr, &validator); err != nil {
				t.Fatalf("listening line %q: %v", line, err)
			}
			defer func() {
				if err := p.Stop(); err != nil {
					t.Errorf("graceful stop: %v", err)
				}
			}()
			if got := common.HexToAddress(validator); validator != want.Address().Hex() || got != want.Address() {
				t.Fatalf("printed validator %s, the key is %s", validator, want.Address())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: 5, Validator: want.Public()})
			if err != nil {
				t.Fatalf("dial pinning the key: %v", err)
			}
			defer c.Close()
			if st, err := c.Status(ctx); err != nil || st.ChainID != 5 {
				t.Fatalf("status %+v %v", st, err)
			}
		})
	}
}
