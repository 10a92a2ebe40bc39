package chain

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// The state tree: a binary sparse Merkle tree over keccak256(key) paths whose root is the state
// root (docs/l1.md §4). It is compact: a subtree holding one leaf is that leaf, an empty subtree
// is the zero hash and is not stored. Each node is stored at its position,
// t/<depth u16 BE><the path's first depth bits, padded to bytes>, as its tag byte and two
// hashes (leaf: key hash, value hash; inner: left, right), so its hash is keccak256 of what is
// stored. The hashes are stateproof's.
const prefixTree = "t/"

// tnode is a node of the tree; the zero tnode is an empty subtree.
type tnode struct {
	kind byte // kindEmpty, kindLeaf, kindInner
	a, b common.Hash
}

const (
	kindEmpty = iota
	kindLeaf
	kindInner
	kindStub // a subtree an update leaves alone, known by its hash (a) only: never stored
)

func (n tnode) hash() common.Hash {
	switch n.kind {
	case kindLeaf:
		return stateproof.LeafHash(n.a, n.b)
	case kindInner:
		return stateproof.InnerHash(n.a, n.b)
	case kindStub:
		return n.a
	}
	return common.Hash{}
}

func (n tnode) encode() []byte {
	tag := byte(stateproof.TagLeaf)
	if n.kind == kindInner {
		tag = stateproof.TagInner
	}
	return append(append([]byte{tag}, n.a[:]...), n.b[:]...)
}

func parseNode(key string, b []byte) (tnode, error) {
	if len(b) != 65 || b[0] > stateproof.TagInner {
		return tnode{}, fmt.Errorf("%w: tree node %x: %d bytes, tag %x", ErrCorruptStore, key, len(b), b[:min(len(b), 1)])
	}
	kind := byte(kindLeaf)
	if b[0] == stateproof.TagInner {
		kind = kindInner
	}
	return tnode{kind: kind, a: common.Hash(b[1:33]), b: common.Hash(b[33:])}, nil
}

// treeKey is the position of the node at depth d on path.
func treeKey(d int, path common.Hash) string {
	k := binary.BigEndian.AppendUint16([]byte(prefixTree), uint16(d))
	n := (d + 7) / 8
	k = append(k, path[:n]...)
	if d%8 != 0 {
		k[len(k)-1] &= byte(0xff << (8 - d%8))
	}
	return string(k)
}

// childPath is path with bit d set to side: a path to the child of the node at depth d.
func childPath(path common.Hash, d int, side byte) common.Hash {
	path[d/8] &^= 1 << (7 - d%8)
	path[d/8] |= side << (7 - d%8)
	return path
}

func loadNode(r pebble.Reader, d int, path common.Hash) (tnode, error) {
	k := treeKey(d, path)
	b, ok, err := dbGet(r, []byte(k))
	if err != nil || !ok {
		return tnode{}, err
	}
	return parseNode(k, b)
}

// treeRoot is the root of the tree stored in r: the state root.
func treeRoot(r pebble.Reader) (common.Hash, error) {
	n, err := loadNode(r, 0, common.Hash{})
	return n.hash(), err
}

// leafUpdate is a write of a key (path = keccak256(key)) to the tree: its new value's hash, or
// its deletion.
type leafUpdate struct {
	path, value common.Hash
	deleted     bool
}

// treeWriter updates the tree stored in r, putting the writes of its nodes into out.
type treeWriter struct {
	r   pebble.Reader
	out map[string]entry
}

func (t *treeWriter) store(d int, path common.Hash, n tnode) {
	if n.kind == kindEmpty {
		t.out[treeKey(d, path)] = entry{deleted: true}
		return
	}
	t.out[treeKey(d, path)] = entry{value: n.encode()}
}

// update applies ups (sorted by path, all under the node) to cur, the node at depth d on path,
// writes the nodes below d that change, and returns the new node (the caller stores it).
func (t *treeWriter) update(d int, path common.Hash, cur tnode, ups []leafUpdate) (tnode, error) {
	if len(ups) == 0 {
		return cur, nil
	}
	if cur.kind != kindInner {
		leaves := make([]leafUpdate, 0, len(ups)+1)
		i := sort.Search(len(ups), func(i int) bool { return ups[i].path.Cmp(cur.a) >= 0 })
		if cur.kind == kindLeaf && (i == len(ups) || ups[i].path != cur.a) {
			leaves = append(leaves, leafUpdate{path: cur.a, value: cur.b})
		}
		for _, u := range ups {
			if !u.deleted {
				leaves = append(leaves, u)
			}
		}
		slices.SortFunc(leaves, func(x, y leafUpdate) int { return x.path.Cmp(y.path) })
		return t.build(d, path, leaves)
	}
	split := sort.Search(len(ups), func(i int) bool { return stateproof.Bit(ups[i].path, d) == 1 })
	parts := [2][]leafUpdate{ups[:split], ups[split:]}
	var kids [2]tnode
	for side, h := range [2]common.Hash{cur.a, cur.b} {
		if len(parts[side]) == 0 {
			if h != (common.Hash{}) {
				kids[side] = tnode{kind: kindStub, a: h} // read below only if it may move up
			}
			continue
		}
		p := childPath(path, d, byte(side))
		old, err := loadNode(t.r, d+1, p)
		if err != nil {
			return tnode{}, err
		}
		if kids[side], err = t.update(d+1, p, old, parts[side]); err != nil {
			return tnode{}, err
		}
	}
	for side := range kids {
		if kids[side].kind == kindStub && kids[1-side].kind == kindEmpty {
			var err error
			if kids[side], err = loadNode(t.r, d+1, childPath(path, d, byte(side))); err != nil {
				return tnode{}, err
			}
		}
	}
	l, r := kids[0], kids[1]
	if (l.kind == kindEmpty && r.kind != kindInner) || (r.kind == kindEmpty && l.kind != kindInner) {
		// No leaf or one leaf left: it moves up here (a subtree holding one leaf is that leaf).
		for side := range kids {
			if kids[side].kind != kindEmpty || len(parts[side]) > 0 {
				t.store(d+1, childPath(path, d, byte(side)), tnode{})
			}
		}
		if l.kind == kindEmpty {
			return r, nil
		}
		return l, nil
	}
	for side := range kids {
		if len(parts[side]) > 0 {
			t.store(d+1, childPath(path, d, byte(side)), kids[side])
		}
	}
	return tnode{kind: kindInner, a: l.hash(), b: r.hash()}, nil
}

// build returns the subtree at depth d on path holding leaves (sorted by path, distinct), none of
// whose nodes is stored yet, and stores the nodes below d.
func (t *treeWriter) build(d int, path common.Hash, leaves []leafUpdate) (tnode, error) {
	switch len(leaves) {
	case 0:
		return tnode{}, nil
	case 1:
		return tnode{kind: kindLeaf, a: leaves[0].path, b: leaves[0].value}, nil
	}
	if d == stateproof.MaxDepth {
		return tnode{}, fmt.Errorf("%w: two state keys with the hash %s", errFatal, leaves[0].path)
	}
	split := sort.Search(len(leaves), func(i int) bool { return stateproof.Bit(leaves[i].path, d) == 1 })
	parts := [2][]leafUpdate{leaves[:split], leaves[split:]}
	var kids [2]tnode
	for side := range kids {
		p := childPath(path, d, byte(side))
		var err error
		if kids[side], err = t.build(d+1, p, parts[side]); err != nil {
			return tnode{}, err
		}
		if kids[side].kind != kindEmpty {
			t.store(d+1, p, kids[side])
		}
	}
	return tnode{kind: kindInner, a: kids[0].hash(), b: kids[1].hash()}, nil
}

// updateRoot is the one place the state root is computed: it applies the block layer's writes
// of state keys to the tree committed in the store, adds the tree's changed nodes to the block
// layer (so they commit in the block's batch) and returns the new state root. A block costs
// O(written keys × depth) node reads and hashes.
func (o *overlay) updateRoot() (common.Hash, error) {
	var ups []leafUpdate
	for _, k := range slices.Sorted(maps.Keys(o.block)) {
		if !strings.HasPrefix(k, prefixState) {
			continue
		}
		e := o.block[k]
		u := leafUpdate{path: crypto.Keccak256Hash([]byte(k)), deleted: e.deleted}
		if !e.deleted {
			u.value = crypto.Keccak256Hash(e.value)
		}
		ups = append(ups, u)
	}
	slices.SortFunc(ups, func(x, y leafUpdate) int { return x.path.Cmp(y.path) })
	t := &treeWriter{r: o.db, out: map[string]entry{}}
	cur, err := loadNode(o.db, 0, common.Hash{})
	if err != nil {
		return common.Hash{}, err
	}
	root, err := t.update(0, common.Hash{}, cur, ups)
	if err != nil {
		return common.Hash{}, err
	}
	if len(ups) > 0 {
		t.store(0, common.Hash{}, root)
	}
	maps.Copy(o.block, t.out)
	return root.hash(), nil
}

// proveKey returns the proof of key's value (or absence) in the tree stored in r.
func proveKey(r pebble.Reader, key []byte) (stateproof.Proof, error) {
	path := crypto.Keccak256Hash(key)
	var p stateproof.Proof
	for d := 0; d <= stateproof.MaxDepth; d++ {
		n, err := loadNode(r, d, path)
		if err != nil {
			return p, err
		}
		switch n.kind {
		case kindEmpty:
			return p, nil
		case kindLeaf:
			p.HasLeaf, p.LeafKey, p.LeafValue = true, n.a, n.b
			return p, nil
		}
		sib := n.b
		if stateproof.Bit(path, d) == 1 {
			sib = n.a
		}
		p.Siblings = append(p.Siblings, sib)
	}
	return p, fmt.Errorf("%w: tree path of %x deeper than %d", ErrCorruptStore, key, stateproof.MaxDepth)
}
