package vectors_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/vectors"
)

var path = filepath.Join("..", "..", "testdata", "vectors.json")

// TestFileIsFresh regenerates the vectors in memory: the committed file cannot go stale.
func TestFileIsFresh(t *testing.T) {
	f, err := vectors.Generate()
	if err != nil {
		t.Fatal(err)
	}
	want, err := vectors.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `make vectors` (go run ./l2/cmd/genvectors -o testdata/vectors.json)", path)
	}
	again, err := vectors.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := vectors.Marshal(again); !bytes.Equal(b, want) {
		t.Fatal("two generations differ")
	}
}

func eq(a fr.Element, b vectors.Element) bool { return a == fr.Element(b) }

// TestReplay checks every value of the committed file against the reference the way another
// implementation consumes it: decode each batch, apply it, compare.
func TestReplay(t *testing.T) {
	f, err := vectors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range f.Poseidon2 {
		if !eq(l2.Compress(fr.Element(c.Left), fr.Element(c.Right)), c.Compress) {
			t.Errorf("poseidon2[%d]", i)
		}
	}
	for i, c := range f.HashMD {
		in := make([]fr.Element, len(c.Inputs))
		for j := range in {
			in[j] = fr.Element(c.Inputs[j])
		}
		if !eq(l2.HashMD(in...), c.Hash) {
			t.Errorf("hash_md[%d]", i)
		}
	}
	if len(f.EmptySubtrees) != l2.MaxTreeDepth+1 {
		t.Fatalf("%d empty subtrees", len(f.EmptySubtrees))
	}
	for l, z := range f.EmptySubtrees {
		if !eq(l2.EmptySubtree(l), z) {
			t.Errorf("empty_subtrees[%d]", l)
		}
	}
	for i, lf := range f.Leaves {
		a := l2.Account{PubKey: l2.PublicKey{X: fr.Element(lf.PKX), Y: fr.Element(lf.PKY)}, Balance: uint64(lf.Balance), Nonce: uint64(lf.Nonce)}
		if !eq(a.Leaf(), lf.Leaf) {
			t.Errorf("leaves[%d]", i)
		}
	}
	covered := make(map[string]bool)
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s, err := c.StartState() // the pre_state accounts, if any
			if err != nil {
				t.Fatal(err)
			}
			if len(c.PreState) != 0 {
				covered["pre_state"] = true
			}
			if c.VerifySignatures {
				covered["verify_signatures"] = true
			}
			keys := l2.KeyMap{}
			for _, pub := range c.MLDSAKeys {
				keys.Add(pub)
				covered["mldsa_keys"] = true
			}
			opts := l2.ApplyOptions{ChainID: uint64(c.ChainID), VerifySignatures: c.VerifySignatures, Keys: keys}
			for bi, b := range c.Batches {
				replayBatch(t, fmt.Sprintf("batch %d", bi), s, opts, b)
				covered[b.Error] = true
				if b.Data != nil {
					covered["data"] = true
				}
				for _, st := range b.Statuses {
					covered[l2.Status(st).String()] = true
				}
			}
			got := s.Accounts()
			if len(got) != len(c.AccountsAfter) {
				t.Fatalf("%d accounts, want %d", len(got), len(c.AccountsAfter))
			}
			for i, a := range c.AccountsAfter {
				g := got[i]
				if g.Index != a.Index || !eq(g.Account.PubKey.X, a.PKX) || !eq(g.Account.PubKey.Y, a.PKY) ||
					g.Account.Balance != uint64(a.Balance) || g.Account.Nonce != uint64(a.Nonce) {
					t.Errorf("account %d: %+v, want %+v", i, g, a)
				}
			}
			if !eq(s.Root(), c.RootAfter) {
				t.Error("root_after")
			}
		})
	}
	for _, name := range []string{"malformed", "unknown_type", "non_canonical", "batch_too_large",
		"ok", "index_out_of_range", "sender_not_found", "recipient_not_found", "bad_nonce",
		"nonce_exhausted", "insufficient_balance", "balance_overflow", "pubkey_mismatch", "bad_signature",
		"key_kind_mismatch", "pre_state", "verify_signatures", "mldsa_keys", "data"} {
		if !covered[name] {
			t.Errorf("no case gives %s", name)
		}
	}
}

func replayBatch(t *testing.T, name string, s *l2.State, opts l2.ApplyOptions, b vectors.Batch) {
	t.Helper()
	rootBefore := s.Root()
	data := b.Txs
	var txs []l2.Tx
	var err error
	if b.Data != nil { // interleaved: its records are txs
		data = b.Data
		records, _, err := l2.SplitBatchData(b.Data)
		if err != nil || !bytes.Equal(records, b.Txs) {
			t.Fatalf("%s: the records of data are not txs (%v)", name, err)
		}
		txs, _, err = l2.DecodeBatchData(data)
	} else {
		txs, err = l2.DecodeBatch(data)
	}
	if got := vectors.ErrorName(err); got != b.Error {
		t.Fatalf("%s: error %q, want %q", name, got, b.Error)
	}
	if err != nil {
		if b.Statuses != nil || b.FinalRoot != nil || b.DataHash != nil {
			t.Fatalf("%s: results for a rejected batch", name)
		}
		if r := s.Root(); r != rootBefore {
			t.Fatalf("%s: rejected batch changed the state", name)
		}
		return
	}
	r := s.ApplyBatch(txs, opts)
	if len(b.Statuses) != len(txs) || len(b.PostRoots) != len(txs) || len(b.WithdrawalLeaves) != len(txs) {
		t.Fatalf("%s: %d transactions, results for %d", name, len(txs), len(b.Statuses))
	}
	for k := range txs {
		if int(r.Statuses[k]) != b.Statuses[k] || !eq(r.PostRoots[k], b.PostRoots[k]) || !eq(r.WithdrawalLeaves[k], b.WithdrawalLeaves[k]) {
			t.Fatalf("%s: transaction %d: status %d", name, k, r.Statuses[k])
		}
	}
	dh, err := l2.DataHash(data)
	if err != nil {
		t.Fatal(err)
	}
	if !eq(r.FinalRoot, *b.FinalRoot) || !eq(r.TraceRoot, *b.TraceRoot) || !eq(r.WithdrawalRoot, *b.WithdrawalRoot) || !eq(dh, *b.DataHash) {
		t.Fatalf("%s: final, trace, withdrawal root or data hash", name)
	}
}

// TestInterleaved replays the interleaved-form cases: the error, or the records and the data
// hash, which is the records' (docs §8.5).
func TestInterleaved(t *testing.T) {
	f, err := vectors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range f.Interleaved {
		records, _, err := l2.SplitBatchData(c.Data)
		if err == nil {
			_, _, err = l2.DecodeBatchData(c.Data)
		}
		if got := vectors.ErrorName(err); got != c.Error {
			t.Fatalf("%s: error %q, want %q", c.Name, got, c.Error)
		}
		seen[c.Error] = true
		if err != nil {
			continue
		}
		h, err := l2.DataHash(c.Data)
		txs, errR := l2.DecodeBatch(c.Records)
		if err != nil || errR != nil || !bytes.Equal(records, c.Records) || c.DataHash == nil || !eq(h, *c.DataHash) ||
			!eq(l2.TxsDataHash(txs), *c.DataHash) {
			t.Fatalf("%s: records or data hash (%v, %v)", c.Name, err, errR)
		}
	}
	if !seen[""] || !seen["malformed"] {
		t.Fatalf("interleaved cases cover %v", seen)
	}
}

// TestLoadIsStrict checks that Load rejects what it does not fully understand.
func TestLoadIsStrict(t *testing.T) {
	dir := t.TempDir()
	zero := `"0x` + strings.Repeat("0", 64) + `"`
	valid := `{"version": 1, "cases": [{"name": "a", "depth": 4, "chain_id": "1", "pre_state": [` +
		`{"index": 1, "pk_x": ` + zero + `, "pk_y": ` + zero + `, "balance": "18446744073709551615", "nonce": "0"}]}]}`
	tests := []struct {
		name, json, err string
	}{
		{"valid", valid, ""},
		{"unknown field", `{"version": 1, "cases": [{"name": "a", "pre_states": []}]}`, "unknown field"},
		{"unknown account field", strings.Replace(valid, `"nonce"`, `"nonces"`, 1), "unknown field"},
		{"trailing data", valid + "{}", "after the top-level object"},
		{"u64 overflow", strings.Replace(valid, "18446744073709551615", "18446744073709551616", 1), "out of range"},
		{"u64 with a leading zero", strings.Replace(valid, `"nonce": "0"`, `"nonce": "00"`, 1), "canonical decimal"},
		{"u64 as a number", strings.Replace(valid, `"18446744073709551615"`, "1", 1), "cannot unmarshal"},
		{"element not canonical", strings.Replace(valid, zero, `"0x`+strings.Repeat("f", 64)+`"`, 1), "invalid fr.Element encoding"},
		{"element in upper case", strings.Replace(valid, zero, `"0x`+strings.Repeat("0", 63)+`A"`, 1), "lowercase"},
		{"version 2", strings.Replace(valid, `"version": 1`, `"version": 2`, 1), "version 2"},
	}
	for i, tc := range tests {
		path := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := vectors.Load(path)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: Load error %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: Load error %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestStartState(t *testing.T) {
	acc := func(i uint32) vectors.Account { return vectors.Account{Index: i, Balance: vectors.U64(i)} }
	c := vectors.Case{Name: "x", Depth: 4, PreState: []vectors.Account{acc(2), acc(15)}}
	if _, err := c.StartState(); err == nil || !strings.Contains(err.Error(), "without pre_state_root") {
		t.Fatalf("missing pre_state_root: error %v", err)
	}
	wrong := vectors.Element(l2.EmptySubtree(4))
	c.PreStateRoot = &wrong
	if _, err := c.StartState(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong pre_state_root: error %v", err)
	}
	want, err := l2.NewStateFromAccounts(4, []l2.IndexedAccount{
		{Index: 2, Account: l2.Account{Balance: 2}}, {Index: 15, Account: l2.Account{Balance: 15}}})
	if err != nil {
		t.Fatal(err)
	}
	root := vectors.Element(want.Root())
	c.PreStateRoot = &root
	s, err := c.StartState()
	if err != nil || s.Len() != 2 || s.Depth() != 4 || s.Root() != want.Root() {
		t.Fatalf("StartState: %v", err)
	}
	if a, ok := s.Account(15); !ok || a.Balance != 15 {
		t.Fatalf("account 15: %+v", a)
	}
	for _, bad := range [][]vectors.Account{{acc(2), acc(2)}, {acc(3), acc(2)}, {acc(16)}} {
		c.PreState = bad
		if _, err := c.StartState(); err == nil || !strings.Contains(err.Error(), `case "x": pre_state`) {
			t.Errorf("pre_state %v: error %v", bad, err)
		}
	}
	c.PreState, c.PreStateRoot = nil, nil
	if s, err := c.StartState(); err != nil || s.Len() != 0 {
		t.Fatalf("no pre_state: %v", err)
	}
}

// TestSmallOrderCase checks that the cofactored-signature case shows what it claims: applied
// transactions whose R is outside the prime-order subgroup, which gnark-crypto's Verify rejects.
func TestSmallOrderCase(t *testing.T) {
	f, err := vectors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	outside := 0
	for _, c := range f.Cases {
		if !strings.HasPrefix(c.Name, "signature: R with a small-order component") {
			continue
		}
		for _, b := range c.Batches {
			txs, err := l2.DecodeBatch(b.Txs)
			if err != nil {
				t.Fatal(err)
			}
			for k, tx := range txs {
				r := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
				if b.Statuses[k] == int(l2.StatusOK) && !r.IsInSubGroup() {
					outside++
				}
			}
		}
	}
	if outside < 3 {
		t.Fatalf("%d applied transactions with R outside the prime-order subgroup, want 3 or more", outside)
	}
}
