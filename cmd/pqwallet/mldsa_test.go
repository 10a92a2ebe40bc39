package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l2"
)

// inProcess runs pqwallet's commands in this process with its home in a new directory.
type inProcess struct {
	t    *testing.T
	a    *app
	home string
	pass string
}

func newInProcess(t *testing.T) *inProcess {
	t.Helper()
	dir := t.TempDir()
	w := &inProcess{t: t, home: dir + "/home", pass: dir + "/pass"}
	if err := os.WriteFile(w.pass, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *inProcess) run(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	a, root := newApp(&out, &errOut, func(string) (string, bool) { return "", false })
	root.SetArgs(append([]string{"--home", w.home, "--passphrase-file", w.pass, "--l2-chain-id", "9"}, args...))
	err := root.Execute()
	w.a = a
	return out.String(), err
}

// TestWalletMLDSAKeys: key new --l2 --pq makes an l2-mldsa keystore that key list shows with
// its key hash, --pq is refused with --l1 or alone, and such a key signs a transfer as type 5
// and a withdraw as type 6 whose record is followed by the ML-DSA-65 signature: the form
// rollup_sendTransaction and batch data take, which splits back and verifies under the
// key's public key.
func TestWalletMLDSAKeys(t *testing.T) {
	w := newInProcess(t)
	var k keyJSON
	out, err := w.run("key", "new", "--l2", "--pq", "pq", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatal(err)
	}
	if k.Kind != string(keystore.KindL2MLDSA) || len(k.KeyHash) != 64 || k.PublicKey != strings.Repeat("0", 64)+k.KeyHash || k.Address != "" {
		t.Fatalf("key new --l2 --pq: %+v, want kind l2-mldsa, a key hash and the account key 0 || kh", k)
	}
	if _, err := w.run("key", "new", "--l2", "ed"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"key", "new", "--l1", "--pq", "x"}, {"key", "new", "--pq", "x"}} {
		if _, err := w.run(bad...); err == nil || !strings.Contains(err.Error(), "[l1 ") {
			t.Fatalf("pqwallet %s: %v, want a flag error", strings.Join(bad, " "), err)
		}
	}
	out, err = w.run("key", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "pq               l2-mldsa   kh "+k.KeyHash) || !strings.Contains(out, "ed               l2-eddsa") {
		t.Fatalf("key list:\n%s", out)
	}

	pq, err := w.a.l2Key("pq")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.l2KeyFor("ed", 0, pq.Info.Public.L2); err == nil || !strings.Contains(err.Error(), "l2 account 0 belongs to public key 00000000") {
		t.Fatalf("EdDSA key for an ML-DSA account: %v", err)
	}
	if got, err := w.a.l2KeyFor("", 3, pq.Info.Public.L2); err != nil || got.Name != "pq" {
		t.Fatalf("the wallet key of an ML-DSA account: %v, %v", got.Name, err)
	}
	w.a.cfg.l2ChainID = 9
	for _, tx := range []l2.Tx{
		{Type: mldsaType(l2.TxTransfer), From: 3, To: 1, Amount: 40, Nonce: 0},
		{Type: mldsaType(l2.TxWithdraw), From: 3, Amount: 5, Nonce: 1, Address: [20]byte{19: 7}},
	} {
		raw, err := w.a.signL2(pq, &tx)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != l2.TxSize+l2.MLDSASigSize {
			t.Fatalf("%s: %d bytes, want record and signature, %d", tx.Type, len(raw), l2.TxSize+l2.MLDSASigSize)
		}
		txs, sigs, err := l2.DecodeBatchData(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(txs) != 1 || !txs[0].Type.MLDSA() || txs[0].Amount != tx.Amount {
			t.Fatalf("decoded %+v", txs)
		}
		if err := l2.VerifyMLDSA(pq.Info.Public.MLDSA[:], 9, &txs[0], sigs[0]); err != nil {
			t.Fatalf("%s: %v", tx.Type, err)
		}
	}
	if typ := mldsaType(l2.TxTransfer); typ != l2.TxTransferMLDSA {
		t.Fatalf("transfer from an ML-DSA key is %s", typ)
	}
	if typ := mldsaType(l2.TxWithdraw); typ != l2.TxWithdrawMLDSA {
		t.Fatalf("withdraw from an ML-DSA key is %s", typ)
	}
	// An EdDSA key signs the 160-byte record alone.
	ed, err := w.a.l2Key("ed")
	if err != nil {
		t.Fatal(err)
	}
	tx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 3, Amount: 1}
	if raw, err := w.a.signL2(ed, &tx); err != nil || len(raw) != l2.TxSize || !l2.VerifyTx(ed.Info.Public.L2, 9, &tx) {
		t.Fatalf("EdDSA transfer: %d bytes, %v", len(raw), err)
	}
}
