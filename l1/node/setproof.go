package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// A client that pinned an older validator set trusts a newer one only through a proven read of
// s/valset/<from> at the set's boundary height from-2, under the certificate the older set
// signs (docs/l1.md §9). State views are kept for ProvenHeights heights only, so under
// CometBFT the node keeps that one reply of every set change it commits, as it served it, and
// answers l1_proveState of exactly that key at exactly that height from it once the height has
// left the window: x/valsetproof/<from u64 BE> -> the stateproof.Reply's RLP. A node that was
// down across a boundary has no reply for it (another validator has).
const prefixSetProof = "x/valsetproof/"

func setProofKey(from uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixSetProof), from)
}

// keepSetProof stores the proven read of the newest set change once the certificate of its
// boundary has committed (a few heights after height from, while the boundary's view is kept).
// A failure is logged: it costs clients this node's answer, not the chain.
func (n *Node) keepSetProof(height uint64) {
	from, _, err := n.chain.ValidatorSetAt(height)
	if err != nil {
		n.cfg.Logger.Warn("validator set proof not kept", "err", err, "height", height)
		return
	}
	if from < 3 || height-from >= ProvenHeights-2 {
		return
	}
	switch _, closer, err := n.db.Get(setProofKey(from)); {
	case err == nil:
		if err := closer.Close(); err != nil {
			n.cfg.Logger.Warn("validator set proof", "err", err, "from", from)
		}
		return
	case !errors.Is(err, pebble.ErrNotFound):
		n.cfg.Logger.Warn("validator set proof not kept", "err", err, "from", from)
		return
	}
	r, err := n.ProveState(&stateproof.Request{Height: from - 2, Keys: [][]byte{stateproof.ValidatorSetKey(from)}})
	if errors.Is(err, chain.ErrNotFound) {
		return // the boundary's certificate is not in yet: next height
	}
	if err != nil {
		n.cfg.Logger.Warn("validator set proof not kept", "err", err, "from", from)
		return
	}
	enc, err := rlp.EncodeToBytes(r)
	if err != nil {
		n.cfg.Logger.Warn("validator set proof not kept", "err", err, "from", from)
		return
	}
	b := n.db.NewBatch()
	defer b.Close()
	if err := b.Set(setProofKey(from), enc, nil); err != nil {
		n.cfg.Logger.Warn("validator set proof not kept", "err", err, "from", from)
		return
	}
	if err := n.storeErr("keeping a validator set proof", n.guard.Commit(b, pebble.Sync)); err != nil {
		n.cfg.Logger.Warn("validator set proof not kept", "err", err, "from", from)
		return
	}
	n.cfg.Logger.Info("validator set proof kept", "from", from, "boundary", from-2)
}

// keptSetProof answers req from the kept proof of a set change when it asks for exactly
// s/valset/<h+2> at a boundary height h; ok false when it does not or no proof is kept.
func (n *Node) keptSetProof(req *stateproof.Request) (*stateproof.Reply, bool, error) {
	if req.Height == 0 || len(req.Keys) != 1 || !bytes.Equal(req.Keys[0], stateproof.ValidatorSetKey(req.Height+2)) {
		return nil, false, nil
	}
	v, closer, err := n.db.Get(setProofKey(req.Height + 2))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("node: reading the proof of the validator set from %d: %w", req.Height+2, err)
	}
	var r stateproof.Reply
	derr := rlp.DecodeBytes(v, &r)
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("node: reading the proof of the validator set from %d: %w", req.Height+2, err)
	}
	if derr != nil {
		return nil, false, fmt.Errorf("%w: proof of the validator set from %d: %v", chain.ErrCorruptStore, req.Height+2, derr)
	}
	return &r, true, nil
}
