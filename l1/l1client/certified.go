package l1client

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// ErrCertificate is the error of a quorum certificate the client refuses: errors.Is also
// matches qc's reason (qc.ErrNoQuorum: no more than two thirds of the stake signed;
// qc.ErrNotMember: a signer outside the pinned set; qc.ErrHeaderMismatch: it certifies
// another app hash, height, chain or set than the header the node claims; qc.ErrBadSignature,
// qc.ErrMalformed).
var ErrCertificate = errors.New("l1client: quorum certificate refused")

// ErrNoValidatorSet is the error of a certified read by a client pinning one validator key
// (Config.Validator) instead of a set: there is nothing to check a certificate against.
var ErrNoValidatorSet = errors.New("l1client: no validator set pinned (Config.Validators)")

// maxCertProbe bounds how many heights below head-2 CertifiedHead looks for a certificate.
const maxCertProbe = 8

// CertifiedHead returns the newest height the connected node serves a certificate of, with its
// app hash (the chain's state root after it), verified against the pinned set: a height's
// certificate exists once the block two heights later has committed, so it probes head-2,
// head-3, ... (at most maxCertProbe more). A certificate that does not verify is refused with
// ErrCertificate (not skipped): the node served a lie or a broken certificate.
func (c *Client) CertifiedHead(ctx context.Context) (uint64, common.Hash, error) {
	if c.cfg.Validators == nil {
		return 0, common.Hash{}, ErrNoValidatorSet
	}
	st, err := c.Status(ctx)
	if err != nil {
		return 0, common.Hash{}, err
	}
	for h := st.Height - min(st.Height, 2); h >= 1 && st.Height-h < 2+maxCertProbe; h-- {
		cert, err := c.Certificate(ctx, h)
		if errors.Is(err, l1api.ErrNotFound) {
			continue
		}
		if errors.Is(err, qc.ErrMalformed) {
			return 0, common.Hash{}, fmt.Errorf("%w: height %d from %s: %w", ErrCertificate, h, c.Endpoint(), err)
		}
		if err != nil {
			return 0, common.Hash{}, err
		}
		b, err := c.Block(ctx, h)
		if err != nil {
			return 0, common.Hash{}, err
		}
		if b.Header.Height != h {
			return 0, common.Hash{}, fmt.Errorf("%w: asked for block %d, the node sent %d", ErrCertificate, h, b.Header.Height)
		}
		if err := c.verifyCert(ctx, cert, h, b.Header.StateRoot); err != nil {
			return 0, common.Hash{}, err
		}
		return h, b.Header.StateRoot, nil
	}
	return 0, common.Hash{}, fmt.Errorf("%w: no certificate at heights %d to %d below head %d from %s",
		l1api.ErrNotFound, st.Height-min(st.Height, 2+maxCertProbe), st.Height-min(st.Height, 2), st.Height, c.Endpoint())
}

// VerifyCertificate checks that cert certifies appHash at height of this chain under the set
// the client trusts for that height (the pinned one or a change it followed, follow.go), without
// following further changes; the error wraps ErrCertificate and qc's reason.
func (c *Client) VerifyCertificate(cert *qc.Certificate, height uint64, appHash common.Hash) error {
	t, ok := c.sets.forHeight(height)
	if !ok {
		return ErrNoValidatorSet
	}
	if err := cert.Verify(t.set, c.chainID, height, appHash); err != nil {
		return fmt.Errorf("%w: height %d: %w", ErrCertificate, height, err)
	}
	return nil
}
