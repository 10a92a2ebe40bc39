package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseGenesis: the -genesis decoder never panics, and what it accepts survives a round trip
// (encoded again, it parses to the same genesis), so nothing in the file is half-read.
func FuzzParseGenesis(f *testing.F) {
	f.Add([]byte(`{"timestamp": 5, "alloc": [{"address": "0x0000000000000000000000000000000000000001", "balance": 7}],
		"rollups": [{"l2ChainId": 9, "vkHash": "0x0100000000000000000000000000000000000000000000000000000000000000", "treeDepth": 8,
		"batchSize": 4, "challengeWindow": 2, "exodusTimeout": 100, "governor": {"WindowBlocks": 10, "EWMAShift": 4},
		"sequencers": ["0x0000000000000000000000000000000000000002"], "guardians": ["0x0102"], "guardianThreshold": 1, "challengeBond": 5}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"alloc": null} {}`))
	f.Add([]byte(`{"rollups": [{"treeDepth": 256}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGenesis(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(g)
		if err != nil {
			t.Fatalf("re-encoding an accepted genesis: %v", err)
		}
		g2, err := parseGenesis(again)
		if err != nil {
			t.Fatalf("an accepted genesis, encoded again, is refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(g, g2) {
			t.Fatalf("round trip changed the genesis: %+v, then %+v", g, g2)
		}
	})
}
