package node

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

// FuzzDecodeQuery feeds arbitrary payloads to the decoder behind every query endpoint, for each
// argument type the API takes: it never panics, every rejection is ErrBadRequest, and an
// accepted payload is the canonical encoding of what it decoded to (one encoding per query).
func FuzzDecodeQuery(f *testing.F) {
	for _, v := range []any{uint64(0), uint64(1 << 40), common.Address{1}, RollupRef{RollupID: 1, Number: 7},
		AccountRef{RollupID: 1, Index: 1 << 31}, RollupRef{RollupID: 1, Number: 1 << 32}, EventsRequest{FromHeight: 3},
		WithdrawalRef{RollupID: 1, Batch: 2, Index: 4095}, WithdrawalRef{RollupID: 1 << 63, Batch: 1 << 63, Index: 1 << 63},
		l1api.L2KeyRef{RollupID: 1 << 63, KH: [32]byte{0: 0xff, 31: 1}}} {
		b, err := rlp.EncodeToBytes(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, MaxQuerySize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(name string, v any) {
			err := decodeQuery(b, v)
			if err != nil {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("%s: rejection %v is not ErrBadRequest", name, err)
				}
				return
			}
			again, err := rlp.EncodeToBytes(v)
			if err != nil {
				t.Fatalf("%s: re-encoding an accepted payload: %v", name, err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("%s: accepted %x, which re-encodes as %x", name, b, again)
			}
		}
		var h uint64
		check("u64", &h)
		var a common.Address
		check("address", &a)
		var r RollupRef
		check("RollupRef", &r)
		var ar AccountRef
		check("AccountRef", &ar)
		var wr WithdrawalRef
		check("WithdrawalRef", &wr)
		var e EventsRequest
		check("EventsRequest", &e)
		var kr l1api.L2KeyRef
		check("L2KeyRef", &kr)
	})
}
