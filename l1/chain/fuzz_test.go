package chain

import (
	"testing"

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
		if err == nil && tx.payload == nil {
			t.Fatal("decoded transaction without payload")
		}
	})
}

// FuzzDecodePayload reaches the payload decoders directly (DecodeTx only decodes a payload
// after its signature verified).
func FuzzDecodePayload(f *testing.F) {
	seeds := []any{&Transfer{Amount: 1}, &RollupConfig{TreeDepth: 4, Guardians: [][]byte{{1}}}, &Deposit{RollupID: 1},
		&SubmitBatch{Data: []byte{1}}, &ClaimWithdrawal{Siblings: make([][32]byte, 12)}, &Challenge{Proof: []byte{2}},
		&ExodusWithdrawal{Siblings: make([][32]byte, 4)}, &ExodusRefund{}, &GuardianAction{Sigs: []GuardianSig{{Sig: []byte{3}}}},
		&ReleaseDelayed{}}
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
		if _, err := decodePayload(TxType(typ), again); err != nil {
			t.Fatalf("re-decoding %T: %v", p, err)
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

func FuzzDecodeSealedBlock(f *testing.F) {
	b, _ := rlp.EncodeToBytes(&SealedBlock{Txs: [][]byte{{1, 2}}, Sig: []byte{3}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var sb SealedBlock
		if rlp.DecodeBytes(b, &sb) != nil {
			return
		}
		if _, err := rlp.EncodeToBytes(&sb); err != nil {
			t.Fatal(err)
		}
	})
}
