package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// e2eSetup is what an end-to-end test starts from: a context bounding the test, the binaries
// pql1node, pqsequencer and pqwallet, a directory for the daemons' files and data, and a wallet
// whose keystores' passphrase is in that directory.
func e2eSetup(t *testing.T) (ctx context.Context, bin, data string, w *wallet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	bin = proctest.Build(t, "pql1node", "pqsequencer", "pqwallet")
	data = t.TempDir()
	return ctx, bin, data, newWallet(t, ctx, bin, data)
}

func TestMain(m *testing.M) { os.Exit(proctest.Run(m)) }

// startL1 starts pql1node with genesis (written to data's genesis.json), the validator key file
// and one block every blockInterval, and returns its address.
func startL1(t *testing.T, bin, data string, chainID uint64, valKey, genesis, blockInterval string) string {
	t.Helper()
	return proctest.Start(t, filepath.Join(bin, "pql1node"), nil, "--datadir", filepath.Join(data, "l1"), "--listen", "127.0.0.1:0",
		"--chain-id", fmt.Sprint(chainID), "--validator-key-file", valKey,
		"--genesis", proctest.WriteFile(t, data, "genesis.json", genesis), "--block-interval", blockInterval).Addr(t)
}

// wallet runs the pqwallet binary with a home directory and a passphrase file.
type wallet struct {
	t    *testing.T
	ctx  context.Context
	bin  string
	home string
	env  []string
}

// newWallet is a wallet with its home in a new directory; its keystores' passphrase is in
// a file of dir.
func newWallet(t *testing.T, ctx context.Context, bin, dir string) *wallet {
	t.Helper()
	passFile := proctest.WriteFile(t, dir, "passphrase", "correct horse battery staple\n")
	home := t.TempDir()
	return &wallet{t: t, ctx: ctx, bin: filepath.Join(bin, "pqwallet"), home: home,
		env: append(os.Environ(), "PQBRIDGE_HOME="+home, "PQBRIDGE_PASSPHRASE_FILE="+passFile)}
}

func (w *wallet) run(args ...string) (string, error) {
	cmd := exec.CommandContext(w.ctx, w.bin, args...)
	cmd.Env = w.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), nil
}

func (w *wallet) json(v any, args ...string) {
	w.t.Helper()
	if err := w.tryJSON(v, args...); err != nil {
		w.t.Fatal(err)
	}
}

// tryJSON is json for a command that may fail while the test waits for a condition.
func (w *wallet) tryJSON(v any, args ...string) error {
	out, err := w.run(append(args, "--json")...)
	if err != nil {
		return fmt.Errorf("pqwallet %s: %w", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("pqwallet %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (w *wallet) key(args ...string) keyJSON {
	w.t.Helper()
	var k keyJSON
	w.json(&k, args...)
	return k
}

// statusTxAnswer is the part of pqwallet status tx's answer the tests check.
type statusTxAnswer struct {
	Status     string `json:"status"`
	Settlement string `json:"settlement"`
}

// txStatus is pqwallet status tx of the transaction hash.
func (w *wallet) txStatus(hash string) statusTxAnswer {
	w.t.Helper()
	var st statusTxAnswer
	w.json(&st, "status", "tx", hash)
	return st
}

// fails runs the wallet and wants it to fail with an error containing want; it returns the
// error's text.
func (w *wallet) fails(want string, args ...string) string {
	w.t.Helper()
	_, err := w.run(args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		w.t.Fatalf("pqwallet %s: got %v, want an error containing %q", strings.Join(args, " "), err, want)
	}
	return err.Error()
}

// configure writes the wallet's config.json: the daemons' addresses and chain IDs.
func (w *wallet) configure(l1Addr string, l1Chain uint64, validatorPub, seqAddr string, l2Chain uint64) {
	w.t.Helper()
	proctest.WriteFile(w.t, w.home, configFileName, fmt.Sprintf(`{"l1": %q, "l1-chain-id": %d, "validator": %q,
		"sequencer": "http://%s", "l2-chain-id": %d, "timeout": "20s"}`, l1Addr, l1Chain, validatorPub, seqAddr, l2Chain))
}

// testValidator writes a new validator seed (pql1node's --validator-key-file) and its public
// key (pqwallet's --validator) into dir.
func testValidator(t *testing.T, dir string) (validator *pqkey.PrivateKey, keyFile, pubFile string) {
	t.Helper()
	validator, keyFile = newSeedFile(t, dir, "validator.key")
	pubFile = proctest.WriteFile(t, dir, "validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	return validator, keyFile, pubFile
}

// newSeedFile writes a new ML-DSA-65 key's seed to the file name of dir, as the daemons'
// --validator-key-file and --sequencer-key-file read it, and returns the key and the path.
func newSeedFile(t *testing.T, dir, name string) (*pqkey.PrivateKey, string) {
	t.Helper()
	var seed [pqkey.SeedSize]byte
	rand.Read(seed[:])
	k := pqkey.NewKeyFromSeed(seed)
	return k, proctest.SeedFile(t, dir, name, k)
}

// dialRollupL1 dials the L1 node at l1Addr (closed when the test ends) and waits for its genesis
// rollup to be registered.
func dialRollupL1(t *testing.T, ctx context.Context, l1Addr string, chainID uint64, validator *pqkey.PrivateKey) *l1client.Client {
	t.Helper()
	cl, err := l1client.Dial(ctx, l1client.Config{Addr: l1Addr, ChainID: chainID, Validator: validator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Errorf("l1 client close: %v", err)
		}
	})
	proctest.WaitFor(t, "the genesis rollup registered on L1", proctest.Timeout, func() bool { _, err := cl.Rollup(ctx, 1); return err == nil })
	return cl
}

// startOptimisticSequencer starts pqsequencer on rollup 1 of the L1 at l1Addr, cutting
// optimistic batches of exactly batch transactions (the age cut, 10 minutes, is beyond the tests).
func startOptimisticSequencer(t *testing.T, bin, data, l1Addr string, l1Chain uint64, valPub, seqKeyFile string, batch int) *proctest.Daemon {
	t.Helper()
	return proctest.Start(t, filepath.Join(bin, "pqsequencer"), nil, "--l1", l1Addr, "--l1-chain-id", fmt.Sprint(l1Chain),
		"--validator-pubkey-file", valPub, "--sequencer-key-file", seqKeyFile, "--mode", "optimistic",
		"--batch-size", fmt.Sprint(batch), "--optimistic-batch-size", fmt.Sprint(batch), "--batch-interval", "10m",
		"--block-interval", "20ms", "--datadir", filepath.Join(data, "seq"), "--listen", "127.0.0.1:0")
}
