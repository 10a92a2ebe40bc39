package sequencer

import (
	"maps"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// fixedSettlement is a SettlementStatus that gives one answer for every block.
type fixedSettlement BlockSettlement

func (f fixedSettlement) BlockSettlement(uint64) BlockSettlement { return BlockSettlement(f) }

// TestStatusBatches: rollup_getStatus reports the settlement engine's batches of a block as
// batch and lastBatch, and omits both while the block is soft or no engine is attached, so the
// reply a client of the older API reads is unchanged.
func TestStatusBatches(t *testing.T) {
	h := start(t, testConfig(t))
	h.fund(newKeys(t, 1, 41), 100)
	for _, tc := range []struct {
		name   string
		engine SettlementStatus
		want   map[string]string // the reply's settlement and batch fields
	}{
		{"no engine", nil, map[string]string{"settlement": "soft"}},
		{"soft", fixedSettlement{Status: "soft"}, map[string]string{"settlement": "soft"}},
		{"committed", fixedSettlement{Status: "committed", FirstBatch: 3, LastBatch: 3},
			map[string]string{"settlement": "committed", "batch": "0x3", "lastBatch": "0x3"}},
		{"final, split", fixedSettlement{Status: "final", FirstBatch: 4, LastBatch: 5},
			map[string]string{"settlement": "final", "batch": "0x4", "lastBatch": "0x5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.s.SetSettlement(tc.engine)
			var reply map[string]any
			if err := h.c.Call(&reply, "rollup_getStatus", hexutil.Uint64(1)); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, k := range []string{"settlement", "batch", "lastBatch"} {
				if v, ok := reply[k]; ok {
					got[k], _ = v.(string)
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("rollup_getStatus(1): %v, want %v (reply %v)", got, tc.want, reply)
			}
		})
	}
}
