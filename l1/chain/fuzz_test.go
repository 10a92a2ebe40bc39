package chain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

func FuzzDecodeTx(f *testing.F) {
	k := seededKey(f, 1)
	for typ := range TxType(11) {
		raw, err := SignTx(k, typ, testChainID, 0, &Transfer{Amount: 1})
		if err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := DecodeTx(raw, testChainID)
		if err != nil {
			return
		}
		if tx.Body() == nil {
			t.Fatal("decoded transaction without payload")
		}
		// One encoding per transaction, so one hash: the mempool and receipts key on it.
		if again, err := rlp.EncodeToBytes(&tx.Tx); err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("accepted %x, which re-encodes as %x (%v)", raw, again, err)
		}
	})
}

// FuzzDecodePayload reaches the payload decoders directly (DecodeTx only decodes a payload
// after its signature verified).
func FuzzDecodePayload(f *testing.F) {
	seeds := []any{&Transfer{Amount: 1}, &RollupConfig{TreeDepth: 4, Guardians: [][]byte{{1}}}, &Deposit{RollupID: 1, MLDSAKey: []byte{5}},
		&SubmitBatch{Data: []byte{1}}, &ClaimWithdrawal{Siblings: make([][32]byte, 12)}, &Challenge{Proof: []byte{2}},
		&ExodusWithdrawal{Siblings: make([][32]byte, 4), MLDSASig: []byte{6}}, &ExodusRefund{}, &GuardianAction{Sigs: []GuardianSig{{Sig: []byte{3}}}},
		&ReleaseDelayed{}, &ConfigChange{Config: RollupConfig{TreeDepth: 4}, Sigs: []GuardianSig{{Sig: []byte{4}}}},
		&ValidatorJoin{ConsensusKey: make([]byte, 32), Stake: 1}, &ValidatorStake{Amount: 1, Withdraw: true}, &ValidatorLeave{}}
	for i, p := range seeds {
		b, _ := rlp.EncodeToBytes(p)
		f.Add(uint8(i+1), b)
	}
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		p, err := decodePayload(TxType(typ), b)
		if err != nil {
			return
		}
		again, err := rlp.EncodeToBytes(p)
		if err != nil {
			t.Fatalf("re-encoding %T: %v", p, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%T: accepted %x, which re-encodes as %x", p, b, again)
		}
	})
}

func FuzzDecompressBatch(f *testing.F) {
	frame, _ := CompressBatch(make([]byte, 320))
	f.Add(frame)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, b []byte) {
		data, err := DecompressBatch(b)
		if err == nil && len(data) > MaxBatchDataSize {
			t.Fatalf("%d bytes out", len(data))
		}
	})
}

// FuzzDecodeSealedBlock: a block as Apply receives it for a replay (and as the node stores it):
// an accepted encoding is canonical, so the block hash covers exactly the bytes received.
func FuzzDecodeSealedBlock(f *testing.F) {
	b, _ := rlp.EncodeToBytes(&SealedBlock{Header: Header{ChainID: testChainID, Height: 3, ParentHash: common.Hash{1}},
		Txs: [][]byte{{1, 2}}, Sig: []byte{3}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var sb SealedBlock
		if rlp.DecodeBytes(b, &sb) != nil {
			return
		}
		again, err := rlp.EncodeToBytes(&sb)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
	})
}

// storedTypes is every RLP value the store holds (docs/l1.md §4), as the queries and the
// executor decode it, with a typical value to seed the fuzzer.
var storedTypes = []struct {
	name string
	seed any
	out  func() any
}{
	{"account", &Account{Nonce: 1, Balance: 1 << 40}, func() any { return new(Account) }},
	{"rollup", &Rollup{ID: 1, Config: RollupConfig{L2ChainID: 7, TreeDepth: 24, BatchSize: 16, Governor: GovernorConfig{EWMAShift: 4},
		Sequencers: []common.Address{{1}}, Guardians: [][]byte{{2}}, GuardianThreshold: 1}, Frozen: true, QueueLen: 3,
		HeadRoot: [32]byte{5}, Escrow: 9, Gov: GovernorState{Baseline: 8}}, func() any { return new(Rollup) }},
	{"rollup with a pending config", &Rollup{ID: 1, Config: RollupConfig{TreeDepth: 24, Sequencers: []common.Address{{1}}},
		Pending: &PendingConfig{Config: RollupConfig{TreeDepth: 24, Sequencers: []common.Address{{2}}}, ActivateAt: 9}},
		func() any { return new(Rollup) }},
	{"count or id", uint64(3), func() any { return new(uint64) }},
	{"deposit", &DepositEntry{Chain: [32]byte{1}, Height: 4, Depositor: common.Address{2}, Amount: 5, PKX: [32]byte{6}, PKY: [32]byte{7}},
		func() any { return new(DepositEntry) }},
	{"batch", &BatchRecord{Number: 1, Mode: 1, NewRoot: [32]byte{3}, TxCount: 4, Submitter: common.Address{5}, Bond: 6, FinalizeAt: 7},
		func() any { return new(BatchRecord) }},
	{"delayed", &DelayedWithdrawal{ID: 1, Recipient: common.Address{2}, Amount: 3, ReleaseAt: 4, Reason: "large"},
		func() any { return new(DelayedWithdrawal) }},
	{"global", &Global{Bonded: 1, Burned: 2}, func() any { return new(Global) }},
	{"head", &head{Height: 9, Hash: common.Hash{1}, Timestamp: 2, StateRoot: common.Hash{3}}, func() any { return new(head) }},
	{"receipts", []Receipt{{TxHash: common.Hash{1}, OK: true}, {TxHash: common.Hash{2}, Error: "bad nonce"}},
		func() any { return new([]Receipt) }},
	{"event", &Event{Height: 2, Index: 1, Kind: EventBatchSubmitted, RollupID: 1, Number: 1, Amount: 1, Root: common.Hash{4}},
		func() any { return new(Event) }},
}

// FuzzDecodeStored feeds arbitrary bytes to the decoding of every stored value (a corrupted or
// foreign store must give ErrCorruptStore, never a crash): it never panics, and an accepted
// value is the canonical encoding of what it decoded to.
func FuzzDecodeStored(f *testing.F) {
	for _, st := range storedTypes {
		b, err := rlp.EncodeToBytes(st.seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, st := range storedTypes {
			v := st.out()
			if rlp.DecodeBytes(b, v) != nil {
				continue
			}
			again, err := rlp.EncodeToBytes(v)
			if err != nil {
				t.Fatalf("%s: re-encoding: %v", st.name, err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("%s: accepted %x, which re-encodes as %x", st.name, b, again)
			}
		}
	})
}

// FuzzDecodeTrace: a stored trace splits into roots that concatenate back to it, or is
// ErrCorruptStore.
func FuzzDecodeTrace(f *testing.F) {
	f.Add(bytes.Repeat([]byte{7}, 3*32))
	f.Add(make([]byte, 33))
	f.Fuzz(func(t *testing.T, b []byte) {
		trace, err := decodeTrace(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("rejection %v is not ErrCorruptStore", err)
			}
			return
		}
		var got []byte
		for _, root := range trace {
			got = append(got, root[:]...)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%d bytes split into %d roots that concatenate to %d bytes", len(b), len(trace), len(got))
		}
	})
}

// FuzzParseNode: a stored tree node parses back to what encode wrote, or is ErrCorruptStore.
func FuzzParseNode(f *testing.F) {
	n := tnode{kind: kindInner, a: common.Hash{1}, b: common.Hash{2}}
	f.Add(n.encode())
	f.Add(n.encode()[1:])
	f.Add(tnode{kind: kindLeaf, a: common.Hash{3}}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseNode("t/x", b)
		if err != nil {
			if !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("rejection %v is not ErrCorruptStore", err)
			}
			return
		}
		if !bytes.Equal(n.encode(), b) {
			t.Fatal("a parsed tree node does not encode back to its bytes")
		}
	})
}

// FuzzSplitChunkProofs: the proof of a chunked validity batch never panics the split, and what
// it accepts is exactly m proofs of at most MaxChunkProofSize bytes, which re-encode to the input.
func FuzzSplitChunkProofs(f *testing.F) {
	two, _ := EncodeChunkProofs([][]byte{make([]byte, 196), {1}})
	f.Add(two, uint8(2))
	f.Add([]byte{0xc0}, uint8(1))
	f.Add([]byte("valid"), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, m uint8) {
		if len(b) > MaxProofSize {
			return // refused before the split
		}
		proofs, err := splitChunkProofs(b, int(m))
		if err != nil {
			return
		}
		if len(proofs) != int(m) {
			t.Fatalf("%d proofs for %d chunks", len(proofs), m)
		}
		for k, p := range proofs {
			if len(p) > MaxChunkProofSize {
				t.Fatalf("proof %d of %d bytes", k, len(p))
			}
		}
		if again, err := EncodeChunkProofs(proofs); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical list: %x re-encodes to %x (%v)", b, again, err)
		}
	})
}
