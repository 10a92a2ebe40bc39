// Package vectors defines the shared test vectors of testdata/vectors.json (schema in
// testdata/README.md) and generates them from the Go reference. Go tests of other packages
// (ffi) read the file through Load; the Zig tests read the same JSON.
package vectors

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// Version is the schema version this package reads and writes.
const Version = 1

// File is the whole vectors file.
type File struct {
	Version       int           `json:"version"`
	GeneratedBy   string        `json:"generated_by"`
	Poseidon2     []Compression `json:"poseidon2"`
	HashMD        []MDHash      `json:"hash_md"`
	EmptySubtrees []Element     `json:"empty_subtrees"` // Z[0] .. Z[32]
	Leaves        []Leaf        `json:"leaves"`
	Cases         []Case        `json:"cases"`
	Chunks        []Chunking    `json:"chunks"` // docs/protocol.md §8.8
	// Interleaved are structural cases of the interleaved batch data form (docs §5.4), read by
	// l2.SplitBatchData and l2.DecodeBatchData only (the core reads records).
	Interleaved []Interleaved `json:"interleaved"`
}

// Interleaved is interleaved batch data and what decoding it gives: a call-level error, or its
// records and data hash.
type Interleaved struct {
	Name     string   `json:"name"`
	Data     Bytes    `json:"data"`
	Error    string   `json:"error"`
	Records  Bytes    `json:"records,omitempty"`
	DataHash *Element `json:"data_hash,omitempty"`
}

// Compression is a known answer of Compress(left, right).
type Compression struct {
	Left     Element `json:"left"`
	Right    Element `json:"right"`
	Compress Element `json:"compress"`
}

// MDHash is a known answer of the Merkle–Damgård hash H.
type MDHash struct {
	Inputs []Element `json:"inputs"`
	Hash   Element   `json:"hash"`
}

// Leaf is a known answer of an account leaf.
type Leaf struct {
	PKX     Element `json:"pk_x"`
	PKY     Element `json:"pk_y"`
	Balance U64     `json:"balance"`
	Nonce   U64     `json:"nonce"`
	Leaf    Element `json:"leaf"`
}

// Case is a sequence of batches applied to a state of a tree of the given depth: the state of
// the PreState accounts, empty if there are none (see StartState).
type Case struct {
	Name             string `json:"name"`
	Depth            int    `json:"depth"`
	ChainID          U64    `json:"chain_id"`
	VerifySignatures bool   `json:"verify_signatures"`
	// PreState lists the accounts the case starts from, by strictly increasing index. It reaches
	// states no transaction can (a nonce of 2^64-1); load it as a snapshot (docs §9) or with
	// l2.NewStateFromAccounts.
	PreState []Account `json:"pre_state,omitempty"`
	// PreStateRoot is the root of the PreState accounts, so a snapshot of them (which carries
	// its root) can be built without a Merkle tree.
	PreStateRoot *Element `json:"pre_state_root,omitempty"`
	// MLDSAKeys are the ML-DSA-65 public keys the reference's KeyBook knows (docs §7: a type
	// 5/6 whose sender's key is not among them is bad_signature with verify_signatures).
	MLDSAKeys     []Bytes   `json:"mldsa_keys,omitempty"`
	Batches       []Batch   `json:"batches"`
	AccountsAfter []Account `json:"accounts_after"`
	RootAfter     Element   `json:"root_after"`
}

// Batch is one batch of a case and its expected results. A batch with a call-level Error has
// no results and leaves the state unchanged.
type Batch struct {
	Txs Bytes `json:"txs"` // the records, what the core reads
	// Data is the batch data in its interleaved form (docs §5.4) when the batch has type 5/6
	// records: each followed by its ML-DSA signature. Its records are Txs.
	Data             Bytes     `json:"data,omitempty"`
	Error            string    `json:"error"`
	Statuses         []int     `json:"statuses,omitempty"`
	PostRoots        []Element `json:"post_roots,omitempty"`
	WithdrawalLeaves []Element `json:"withdrawal_leaves,omitempty"`
	FinalRoot        *Element  `json:"final_root,omitempty"`
	TraceRoot        *Element  `json:"trace_root,omitempty"`
	WithdrawalRoot   *Element  `json:"withdrawal_root,omitempty"`
	DataHash         *Element  `json:"data_hash,omitempty"`
}

// Account is a non-empty account of the state before (pre_state) or after (accounts_after)
// the batches of a case.
type Account struct {
	Index   uint32  `json:"index"`
	PKX     Element `json:"pk_x"`
	PKY     Element `json:"pk_y"`
	Balance U64     `json:"balance"`
	Nonce   U64     `json:"nonce"`
}

// Element is a field element, in JSON "0x" and 64 lowercase hex digits of its canonical
// big-endian form.
type Element fr.Element

// MarshalJSON implements json.Marshaler.
func (e Element) MarshalJSON() ([]byte, error) {
	b := (*fr.Element)(&e).Bytes()
	return json.Marshal("0x" + hex.EncodeToString(b[:]))
}

// UnmarshalJSON implements json.Unmarshaler; it rejects anything but the canonical form.
func (e *Element) UnmarshalJSON(data []byte) error {
	var b Bytes
	if err := b.UnmarshalJSON(data); err != nil {
		return err
	}
	if len(b) != fr.Bytes {
		return fmt.Errorf("vectors: field element of %d bytes", len(b))
	}
	return (*fr.Element)(e).SetBytesCanonical(b)
}

// Bytes is a byte string, in JSON "0x" and lowercase hex.
type Bytes []byte

// MarshalJSON implements json.Marshaler.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal("0x" + hex.EncodeToString(b))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || strings.ToLower(h) != h {
		return fmt.Errorf("vectors: %q is not 0x-prefixed lowercase hex", s)
	}
	v, err := hex.DecodeString(h)
	if err != nil {
		return fmt.Errorf("vectors: %w", err)
	}
	*b = v
	return nil
}

// U64 is a uint64, in JSON a decimal string without leading zeros (JSON numbers lose precision
// above 2^53).
type U64 uint64

// MarshalJSON implements json.Marshaler.
func (u U64) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatUint(uint64(u), 10))
}

// UnmarshalJSON implements json.Unmarshaler.
func (u *U64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("vectors: %w", err)
	}
	if strconv.FormatUint(v, 10) != s {
		return fmt.Errorf("vectors: %q is not a canonical decimal u64", s)
	}
	*u = U64(v)
	return nil
}

// Marshal returns the file's canonical bytes: indented JSON with a final newline.
func Marshal(f *File) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// StartState returns the state the case starts from: its PreState accounts in a tree of its
// depth. It fails on an invalid depth or on indices that are not strictly increasing or do not
// fit the tree.
func (c *Case) StartState() (*l2.State, error) {
	accounts := make([]l2.IndexedAccount, len(c.PreState))
	for i, a := range c.PreState {
		accounts[i] = l2.IndexedAccount{Index: a.Index, Account: l2.Account{
			PubKey:  l2.PublicKey{X: fr.Element(a.PKX), Y: fr.Element(a.PKY)},
			Balance: uint64(a.Balance), Nonce: uint64(a.Nonce),
		}}
	}
	s, err := l2.NewStateFromAccounts(c.Depth, accounts)
	if err != nil {
		return nil, fmt.Errorf("vectors: case %q: pre_state: %w", c.Name, err)
	}
	switch {
	case len(c.PreState) == 0 && c.PreStateRoot != nil:
		return nil, fmt.Errorf("vectors: case %q: pre_state_root without pre_state", c.Name)
	case len(c.PreState) != 0 && c.PreStateRoot == nil:
		return nil, fmt.Errorf("vectors: case %q: pre_state without pre_state_root", c.Name)
	case c.PreStateRoot != nil && fr.Element(*c.PreStateRoot) != s.Root():
		return nil, fmt.Errorf("vectors: case %q: pre_state_root does not match the pre_state accounts", c.Name)
	}
	return s, nil
}

// Load reads and parses a vectors file. Decoding is strict: unknown fields, trailing data and
// values not in their canonical form (see Element, Bytes, U64) are errors, so that a file of a
// newer schema is rejected rather than half understood.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("vectors: %s: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("vectors: %s: data after the top-level object", path)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("vectors: %s: version %d, want %d", path, f.Version, Version)
	}
	return &f, nil
}
