package l1client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// ErrSetNotProven is the error of a validator-set change the client refuses to adopt: the
// set a node names for a height is not the one proven (l1_proveState of
// stateproof.ValidatorSetKey(from)) at its boundary height from-2 under a certificate of the set
// the client already trusts, or the node's sets do not lead forward from it.
var ErrSetNotProven = errors.New("l1client: validator set change not proven")

// maxSetChanges bounds the set changes one follow walks across (one per epoch boundary between
// the newest trusted set and the height of the certificate that named another set).
const maxSetChanges = 64

// The client follows the certified changes of the validator set (docs/l1.md §9): it starts from
// the pinned set (Config.Validators, in force from height 1) and, when a certificate names
// another set, walks forward boundary by boundary. Each new set, in force from height from, is
// adopted only once a proven read of s/valset/<from> at the boundary height from-2 verifies
// under the certificate of the set trusted before it and hashes to the set the node names.

// trustedSet is a validator set the client trusts, in force from height from: it certifies the
// heights from-1 on (the certificate of h is signed by CometBFT's set of h+1).
type trustedSet struct {
	from uint64
	set  *qc.ValidatorSet
}

// trustedSets are the sets adopted so far, in increasing from order. No lock is held across a
// walk's calls: concurrent walks prove the same sets and the first adopts each.
type trustedSets struct {
	mu   sync.Mutex
	list []trustedSet
}

// forHeight returns the trusted set that certifies height; ok false when no set is pinned.
func (s *trustedSets) forHeight(height uint64) (trustedSet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.list) - 1; i >= 0; i-- {
		if s.list[i].from <= height+1 || i == 0 {
			return s.list[i], true
		}
	}
	return trustedSet{}, false
}

// latest returns the newest trusted set.
func (s *trustedSets) latest() trustedSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list[len(s.list)-1]
}

// TrustedSet returns the newest validator set the client trusts and the height it is in force
// from (1 for the pinned set); nil when the client pins one key.
func (c *Client) TrustedSet() (*qc.ValidatorSet, uint64) {
	if c.cfg.Validators == nil {
		return nil, 0
	}
	t := c.sets.latest()
	return t.set, t.from
}

// verifyCert checks that cert certifies appHash at height under the trusted set of that height,
// first following the set's changes when the certificate names another set than the newest
// trusted one and is for a height it could certify. The error wraps ErrCertificate and qc's
// reason, and ErrSetNotProven when the change could not be followed.
func (c *Client) verifyCert(ctx context.Context, cert *qc.Certificate, height uint64, appHash common.Hash) error {
	err := c.VerifyCertificate(cert, height, appHash)
	if err == nil || c.cfg.Validators == nil {
		return err
	}
	last := c.sets.latest()
	if height+1 < last.from || cert.Header.ValSetHash == last.set.Hash() {
		return err
	}
	if ferr := c.follow(ctx, height); ferr != nil {
		return fmt.Errorf("%w (following the validator set to height %d: %w)", err, height, ferr)
	}
	return c.VerifyCertificate(cert, height, appHash)
}

// follow walks the trusted set forward to the set that certifies height: it asks the node for
// that set, then for the set before each one down to the newest trusted set (at most
// maxSetChanges), and proves and adopts them in increasing order.
func (c *Client) follow(ctx context.Context, height uint64) error {
	cur := c.sets.latest()
	var named []trustedSet
	for t := height; ; {
		set, from, err := c.Validators(ctx, t)
		if err != nil {
			return err
		}
		if set.Hash() == cur.set.Hash() {
			break
		}
		if len(named) == maxSetChanges {
			return fmt.Errorf("%w: more than %d set changes between height %d and %d", ErrSetNotProven, maxSetChanges, cur.from, height)
		}
		if from <= cur.from || from < 3 || from > t+1 {
			return fmt.Errorf("%w: %s names set %s from height %d for height %d, after the trusted set from %d",
				ErrSetNotProven, c.Endpoint(), set.Hash(), from, t, cur.from)
		}
		named = append(named, trustedSet{from: from, set: set})
		t = from - 2 // the boundary, certified by the set before
	}
	for i := len(named) - 1; i >= 0; i-- {
		if err := c.proveSet(ctx, cur, named[i]); err != nil {
			return err
		}
		if !c.adopt(cur, named[i]) {
			return nil // another walk went further meanwhile: the caller checks again
		}
		cur = named[i]
	}
	return nil
}

// proveSet checks next against the proven read of its state key at its boundary height under
// a certificate of the trusted set cur.
func (c *Client) proveSet(ctx context.Context, cur, next trustedSet) error {
	boundary := next.from - 2
	keys := [][]byte{stateproof.ValidatorSetKey(next.from)}
	r, err := c.ProveState(ctx, boundary, keys)
	if err != nil {
		return fmt.Errorf("%w: set from %d: %w", ErrSetNotProven, next.from, err)
	}
	if r.Height != boundary {
		return fmt.Errorf("%w: set from %d: asked for its boundary %d, the node answered %d", ErrSetNotProven, next.from, boundary, r.Height)
	}
	cert, err := qc.Decode(r.Cert)
	if err != nil {
		return fmt.Errorf("%w: set from %d: certificate of the boundary %d: %w", ErrSetNotProven, next.from, boundary, err)
	}
	if err := cert.Verify(cur.set, c.chainID, boundary, r.AppHash); err != nil {
		return fmt.Errorf("%w: set from %d: certificate of the boundary %d under the set from %d: %w",
			ErrSetNotProven, next.from, boundary, cur.from, err)
	}
	if err := r.VerifyEntries(keys); err != nil {
		return fmt.Errorf("%w: set from %d: %w", ErrSetNotProven, next.from, err)
	}
	if !r.Entries[0].Present {
		return fmt.Errorf("%w: no set from %d in the state at its boundary %d", ErrSetNotProven, next.from, boundary)
	}
	var members []l1api.SetMember
	if err := rlp.DecodeBytes(r.Entries[0].Value, &members); err != nil {
		return fmt.Errorf("%w: set from %d: %v", ErrSetNotProven, next.from, err)
	}
	proven, err := signerSet(members)
	if err != nil {
		return fmt.Errorf("%w: set from %d: %w", ErrSetNotProven, next.from, err)
	}
	if proven.Hash() != next.set.Hash() {
		return fmt.Errorf("%w: %s names set %s from height %d, the state at %d proves %s",
			ErrSetNotProven, c.Endpoint(), next.set.Hash(), next.from, boundary, proven.Hash())
	}
	return nil
}

// adopt makes t, proven under prev, the newest trusted set if prev still is; the next dials
// accept replies signed by its members. False when another walk adopted a set meanwhile.
func (c *Client) adopt(prev, t trustedSet) bool {
	c.sets.mu.Lock()
	if last := c.sets.list[len(c.sets.list)-1]; last.from != prev.from || last.set != prev.set {
		c.sets.mu.Unlock()
		return false
	}
	c.sets.list = append(c.sets.list, t)
	c.sets.mu.Unlock()
	keys := make([]*pqkey.PublicKey, 0, len(t.set.Validators()))
	for _, v := range t.set.Validators() {
		keys = append(keys, v.Key)
	}
	c.mu.Lock()
	c.rpcCfg.ValidatorSet = keys
	c.mu.Unlock()
	c.log.Info("validator set adopted", "from", t.from, "set", t.set.Hash(), "members", len(keys), "power", t.set.TotalPower())
	return true
}

// signerSet is members as a set for qc.Certificate.Verify.
func signerSet(members []l1api.SetMember) (*qc.ValidatorSet, error) {
	vals := make([]qc.Validator, len(members))
	for i, m := range members {
		k, err := pqkey.ParsePublicKey(m.PQKey)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", i, err)
		}
		vals[i] = qc.Validator{Key: k, Power: m.Power}
	}
	return qc.NewValidatorSet(vals)
}
