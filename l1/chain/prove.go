package chain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// ErrNotStateKey is a proven read of a key outside the state (not under s/): the state root does
// not cover it.
var ErrNotStateKey = errors.New("not a state key (the state root covers only s/ keys)")

// ProveAt reads keys, with their proofs, from r, a view of a chain's store as of one committed
// height (a pebble snapshot taken right after that height's commit), and returns them with the
// state root of that view. A read costs one value read and O(depth) tree node reads per key.
func ProveAt(r pebble.Reader, keys [][]byte) (common.Hash, []stateproof.Entry, error) {
	root, err := treeRoot(r)
	if err != nil {
		return common.Hash{}, nil, err
	}
	entries := make([]stateproof.Entry, len(keys))
	for i, k := range keys {
		if !strings.HasPrefix(string(k), prefixState) {
			return common.Hash{}, nil, fmt.Errorf("%w: key %d %x", ErrNotStateKey, i, k)
		}
		v, ok, err := dbGet(r, k)
		if err != nil {
			return common.Hash{}, nil, err
		}
		p, err := proveKey(r, k)
		if err != nil {
			return common.Hash{}, nil, err
		}
		entries[i] = stateproof.Entry{Key: k, Present: ok, Value: v, Proof: p}
	}
	return root, entries, nil
}
