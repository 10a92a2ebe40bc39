package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/qc"
)

// certificate: a validator serves the quorum certificate of a committed height, which the demo
// verifies against the set it pinned (validators.json) and the state root read with it.
func (d *demo) certificate(ctx context.Context) (string, error) {
	n := d.n
	if len(n.vals) == 0 {
		d.u.note("One L1 node (--validators 1): its own key signs every reply; there are no certificates.")
		return "single L1 node: no certificate", nil
	}
	d.u.note("Each validator signs every committed height's header (chain, height, app hash, validator-set hash) with")
	d.u.note("its ML-DSA-65 key; the next proposer puts the votes into a block: a certificate of more than 2/3 of the stake.")
	v := n.vals[1]
	st, err := v.c.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", v.name, err)
	}
	if st.Height < 3 {
		return "", fmt.Errorf("%s is at height %d: no certificate yet", v.name, st.Height)
	}
	h := st.Height - 2 // height h's certificate is in block h+2
	d.u.command(fmt.Sprintf("l1_certificate %d, l1_getBlock %d   # QUIC calls to %s at %s (l1client Certificate, Block)", h, h, v.name, v.quic))
	cert, err := v.c.Certificate(ctx, h)
	if err != nil {
		return "", fmt.Errorf("%s: certificate of height %d: %w", v.name, h, err)
	}
	b, err := v.c.Block(ctx, h)
	if err != nil {
		return "", fmt.Errorf("%s: block %d: %w", v.name, h, err)
	}
	names := map[common.Address]string{}
	for _, o := range n.vals {
		names[o.key.Address()] = o.name
	}
	lines := []string{fmt.Sprintf("height %d  chain %d  app hash %s", cert.Header.Height, cert.Header.ChainID, cert.Header.AppHash),
		fmt.Sprintf("validator set %s", cert.Header.ValSetHash)}
	var signed uint64
	for _, vote := range cert.Votes {
		m, ok := n.valSet.Member(vote.Signer)
		if !ok {
			return "", fmt.Errorf("certificate of height %d: signer %s is not in the pinned set", h, vote.Signer)
		}
		signed += m.Power
		lines = append(lines, fmt.Sprintf("  signer %s (%s)  stake %d  ML-DSA-65 signature %d bytes", vote.Signer, names[vote.Signer], m.Power, len(vote.Sig)))
	}
	d.u.output(strings.Join(lines, "\n"))
	start := time.Now()
	if err := cert.Verify(n.valSet, l1ChainID, h, b.Header.StateRoot); err != nil {
		return "", fmt.Errorf("certificate of height %d from %s: %w", h, v.name, err)
	}
	took := time.Since(start)
	d.u.note("%d of %d validators signed, stake %d of %d (more than 2/3 needed): verified against the pinned set %s in %v,",
		len(cert.Votes), len(n.vals), signed, n.valSet.TotalPower(), n.path("validators.json"), took.Round(time.Microsecond))
	d.u.note("for the state root %s of block %d.", b.Header.StateRoot, h)
	other := b.Header.StateRoot
	other[0] ^= 1
	if err := cert.Verify(n.valSet, l1ChainID, h, other); !errors.Is(err, qc.ErrHeaderMismatch) {
		return "", fmt.Errorf("the certificate of height %d against another app hash: %v, want it refused", h, err)
	}
	d.u.note("The same certificate against another app hash is refused: %s", qc.ErrHeaderMismatch)
	return fmt.Sprintf("height %d: %d of %d validators, stake %d of %d, verified", h, len(cert.Votes), len(n.vals), signed, n.valSet.TotalPower()), nil
}

// validatorDown SIGKILLs the last validator, the sequencer's L1 endpoint: the sequencer moves to
// another validator (it pins the set), settlement goes on with the other three (a transfer
// becomes final on L1), then the validator restarts on its datadir and catches up.
func (d *demo) validatorDown(ctx context.Context) (string, error) {
	n := d.n
	if len(n.vals) < 4 {
		d.u.note("Fewer than 4 validators (--validators %d): losing one would halt L1, so none is stopped.", n.o.validators)
		return "skipped: fewer than 4 validators", nil
	}
	v := n.vals[len(n.vals)-1]
	d.u.note("%d of %d equal validators hold more than 2/3 of the stake: L1 goes on without one. %s is the sequencer's", len(n.vals)-1, len(n.vals), v.name)
	d.u.note("L1 endpoint (first in its --l1); it pins the set (--l1-validators), so it moves to another validator.")
	reconnects := func() (float64, error) {
		m, err := scrape(ctx, "http://"+n.metrics["pqsequencer"]+"/metrics")
		if err != nil {
			return 0, err
		}
		v, lines := m.sum("pqsequencer_l1_reconnects_total")
		if len(lines) == 0 {
			return 0, fmt.Errorf("pqsequencer /metrics has no pqsequencer_l1_reconnects_total")
		}
		return v, nil
	}
	before, err := reconnects()
	if err != nil {
		return "", err
	}
	d.u.command(fmt.Sprintf("kill -KILL %d   # %s", v.d.cmd.Process.Pid, v.name))
	if err := v.d.kill(); err != nil {
		return "", err
	}
	st, err := n.l1.Status(ctx)
	if err != nil {
		return "", err
	}
	down := st.Height
	out, err := n.wallet(ctx, d.u, "transfer", "--from", fmt.Sprint(d.bob), "--to", fmt.Sprint(d.carol), "42", "--wait")
	if err != nil {
		return "", err
	}
	m := txHash.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pqwallet transfer printed no transaction hash: %q", out)
	}
	p := d.u.progress(fmt.Sprintf("the transfer final on L1 with %d validators", len(n.vals)-1))
	err = waitUntil(ctx, time.Hour, "the transfer final on L1", func() (bool, error) {
		var st struct {
			Settlement string `json:"settlement"`
		}
		if err := n.walletJSON(ctx, &st, "status", "tx", m[1]); err != nil {
			return false, err
		}
		if h, err := n.l1.Status(ctx); err == nil {
			p.update(fmt.Sprintf("settlement %s, L1 height %d", st.Settlement, h.Height), 0, 0)
		}
		return st.Settlement == "final", nil
	})
	if err != nil {
		return "", err
	}
	r, err := d.rollup(ctx)
	if err != nil {
		return "", err
	}
	p.end(fmt.Sprintf("final (the rollup's batches final through %d)", r.FinalNumber))
	if _, err := n.wallet(ctx, d.u, "status", "tx", m[1]); err != nil {
		return "", err
	}
	after, err := reconnects()
	if err != nil {
		return "", err
	}
	if after <= before {
		return "", fmt.Errorf("the transfer is final but pqsequencer_l1_reconnects_total is still %v: the sequencer did not leave %s", after, v.name)
	}
	d.u.note("pqsequencer_l1_reconnects_total %v → %v: the sequencer posted through another validator.", before, after)
	if st, err = n.l1.Status(ctx); err != nil {
		return "", err
	}
	target := st.Height
	d.u.command(fmt.Sprintf("pql1node --datadir %s …   # %s restarted on its datadir", n.path(v.name), v.name))
	if err := n.spawnValidator(ctx, d.u, v); err != nil {
		return "", err
	}
	p = d.u.progress(fmt.Sprintf("%s catching up to height %d", v.name, target))
	err = waitUntil(ctx, time.Hour, v.name+" caught up", func() (bool, error) {
		vs, err := v.c.Status(ctx)
		if err != nil {
			return false, nil // redialling the restarted node
		}
		p.update(fmt.Sprintf("height %d", vs.Height), min(vs.Height, target), target)
		return vs.Height >= target, nil
	})
	if err != nil {
		return "", err
	}
	mine, err := v.c.Block(ctx, target)
	if err != nil {
		return "", err
	}
	theirs, err := n.vals[0].c.Block(ctx, target)
	if err != nil {
		return "", err
	}
	if mine.Header.Hash() != theirs.Header.Hash() {
		return "", fmt.Errorf("%s holds block %d %s after catching up, %s %s", v.name, target, mine.Header.Hash(), n.vals[0].name, theirs.Header.Hash())
	}
	p.end(fmt.Sprintf("block %d %s, as on %s", target, mine.Header.Hash().Hex()[:18], n.vals[0].name))
	return fmt.Sprintf("%s (the sequencer's L1) killed at height %d; sequencer moved, transfer final with %d of %d; restarted, caught up to %d",
		v.name, down, len(n.vals)-1, len(n.vals), target), nil
}
