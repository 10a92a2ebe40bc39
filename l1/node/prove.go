package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// ProvenHeights is how many of the last committed heights the node can prove state at: it keeps
// a pebble snapshot of each, taken right after the height's commit, and releases older ones. A
// height's certificate commits two heights later (docs/l1.md §9), so under CometBFT the newest
// certified height is the third newest held.
const ProvenHeights = 8

// heightView is the store as of one committed height; it is closed once released and no read
// holds it.
type heightView struct {
	height   uint64
	root     common.Hash
	snap     *pebble.Snapshot
	readers  int
	released bool
}

// views are the heights the node can prove state at, oldest first.
type views struct {
	mu   sync.Mutex
	list []*heightView
}

// add records the view of a height just committed and releases the oldest beyond
// ProvenHeights. Called under produceMu, right after the commit: no other block is between.
func (v *views) add(height uint64, root common.Hash, snap *pebble.Snapshot) error {
	v.mu.Lock()
	v.list = append(v.list, &heightView{height: height, root: root, snap: snap})
	var old []*heightView
	if len(v.list) > ProvenHeights {
		old = v.list[:len(v.list)-ProvenHeights]
		v.list = append([]*heightView(nil), v.list[len(v.list)-ProvenHeights:]...)
	}
	v.mu.Unlock()
	return v.release(old)
}

// release marks views released and closes those no read holds.
func (v *views) release(old []*heightView) error {
	var errs []error
	v.mu.Lock()
	var idle []*heightView
	for _, hv := range old {
		hv.released = true
		if hv.readers == 0 {
			idle = append(idle, hv)
		}
	}
	v.mu.Unlock()
	for _, hv := range idle {
		errs = append(errs, hv.snap.Close())
	}
	return errors.Join(errs...)
}

// closeAll releases every view (Stop).
func (v *views) closeAll() error {
	v.mu.Lock()
	all := v.list
	v.list = nil
	v.mu.Unlock()
	return v.release(all)
}

// acquire returns the newest view for which ok holds (height 0) or the view of height, held
// for reading until done is called.
func (v *views) acquire(height uint64, ok func(uint64) (bool, error)) (*heightView, func() error, error) {
	v.mu.Lock()
	list := append([]*heightView(nil), v.list...)
	v.mu.Unlock()
	var hv *heightView
	for i := len(list) - 1; i >= 0 && hv == nil; i-- {
		if height != 0 && list[i].height != height {
			continue
		}
		good, err := ok(list[i].height)
		if err != nil {
			return nil, nil, err
		}
		if good {
			hv = list[i]
		}
	}
	if hv == nil {
		if height == 0 {
			return nil, nil, fmt.Errorf("%w: no height this node holds is certified yet", chain.ErrNotFound)
		}
		return nil, nil, fmt.Errorf("%w: height %d is not among the %d newest this node can prove state at, or has no certificate yet", chain.ErrNotFound, height, ProvenHeights)
	}
	v.mu.Lock()
	if hv.released {
		v.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: height %d was just released", chain.ErrNotFound, hv.height)
	}
	hv.readers++
	v.mu.Unlock()
	done := func() error {
		v.mu.Lock()
		hv.readers--
		last := hv.released && hv.readers == 0
		v.mu.Unlock()
		if last {
			return hv.snap.Close()
		}
		return nil
	}
	return hv, done, nil
}

// recordView keeps the store's view of the height just committed; called under produceMu.
func (n *Node) recordView() error {
	height, _, _, root := n.chain.Head()
	return n.views.add(height, root, n.db.NewSnapshot())
}

// ProveState reads keys at a committed height with their proofs against its state root
// (l1_proveState). Height 0 is the newest height the node holds a certificate for, or, on a
// single-validator node, its head. Under CometBFT the reply carries the height's certificate,
// and a height without one yet is not served.
func (n *Node) ProveState(req *stateproof.Request) (*stateproof.Reply, error) {
	if err := req.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	certs := map[uint64][]byte{}
	certified := func(h uint64) (bool, error) {
		if !n.cfg.ExternalConsensus {
			return true, nil
		}
		c, err := n.Certificate(h)
		if errors.Is(err, chain.ErrNotFound) {
			return false, nil
		}
		certs[h] = c
		return err == nil, err
	}
	hv, done, err := n.views.acquire(req.Height, certified)
	if errors.Is(err, chain.ErrNotFound) {
		if r, ok, kerr := n.keptSetProof(req); kerr != nil || ok {
			return r, kerr
		}
	}
	if err != nil {
		return nil, err
	}
	root, entries, err := chain.ProveAt(hv.snap, req.Keys)
	if derr := done(); derr != nil {
		n.cfg.Logger.Warn("releasing a state view", "err", derr, "height", hv.height)
	}
	if errors.Is(err, chain.ErrNotStateKey) {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err != nil {
		return nil, fmt.Errorf("node: proving state at height %d: %w", hv.height, err)
	}
	total := 0
	for _, e := range entries {
		total += len(e.Value)
	}
	if total > stateproof.MaxValueBytes {
		return nil, fmt.Errorf("%w: the values of %d keys hold %d bytes, at most %d in one reply: ask for fewer", ErrBadRequest, len(entries), total, stateproof.MaxValueBytes)
	}
	if root != hv.root {
		return nil, fmt.Errorf("node: the state tree at height %d has root %s, its header %s", hv.height, root, hv.root)
	}
	reply := &stateproof.Reply{Height: hv.height, AppHash: root, Cert: certs[hv.height], Entries: entries}
	// What a client will check, checked first (a few keccak256s a key): a store whose tree and
	// state disagree answers an error here, not a reply every client refuses.
	if err := reply.VerifyEntries(req.Keys); err != nil {
		return nil, fmt.Errorf("node: the state at height %d does not match its tree: %w", hv.height, err)
	}
	return reply, nil
}
