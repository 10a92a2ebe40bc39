package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const (
	guardianThreshold = 2
	largeWithdrawal   = 100_000 // the governor delays a withdrawal of at least this (step 5's is far below)
	withdrawLarge     = 200_000 // step 7's withdrawal, delayed when claimed in step 8
)

// makeGuardianKeys writes the three guardians' keys: guardians 1 and 2 as encrypted keystores,
// guardian 3 split into three encrypted shares, any two of which recombine it.
func (n *network) makeGuardianKeys(passphrase []byte, params keystore.Params) error {
	for i := 1; i <= 3; i++ {
		k, err := pqkey.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		n.guardians = append(n.guardians, k)
		if i < 3 {
			if err := keystore.Save(n.guardianKeystore(i), keystore.FromL1(k), passphrase, params); err != nil {
				return err
			}
			continue
		}
		shares, err := keystore.Split(keystore.FromL1(k), 2, 3)
		if err != nil {
			return err
		}
		for j := range shares {
			b, err := shares[j].Encrypt(passphrase, params)
			if err != nil {
				return err
			}
			if err := keystore.WriteFile(n.guardianShare(j+1), b); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *network) guardianKeystore(i int) string {
	return filepath.Join(n.keysDir, fmt.Sprintf("guardian%d.json", i))
}

func (n *network) guardianShare(j int) string {
	return filepath.Join(n.keysDir, fmt.Sprintf("guardian3.share%d.json", j))
}

// guardianKeysHex are the guardians' public keys as the genesis lists them.
func (n *network) guardianKeysHex() []string {
	var out []string
	for _, k := range n.guardians {
		out = append(out, "0x"+hex.EncodeToString(k.Public().Bytes()))
	}
	return out
}

// guardians: a watcher holding guardians 1 and 3 (recombined from two shares) pauses the rollup
// on the fraud proof upheld in step 6; a deposit and a claim are refused; guardians 1 and 2 sign
// the unpause apart, their files are combined and sent, and a deposit passes again.
func (d *demo) guardians(ctx context.Context) (string, error) {
	n := d.n
	d.u.note("First bob withdraws %d to alice on L2 (over the governor's large-withdrawal limit %d: step 8 claims it).", withdrawLarge, largeWithdrawal)
	out, err := n.wallet(ctx, d.u, "withdraw", fmt.Sprint(withdrawLarge), "--to", "alice", "--from", fmt.Sprint(d.bob), "--wait")
	if err != nil {
		return "", err
	}
	m := txHash.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pqwallet withdraw printed no transaction hash: %q", out)
	}
	d.largeTx = m[1]
	if err := d.waitClaimable(ctx, d.largeTx); err != nil {
		return "", err
	}
	d.u.note("A guardian watcher holds guardian 1's keystore and guardian 3's shares 1 and 2 (2 of 3 guardians). It reads")
	d.u.note("L1's event log from the start of step 6 and pauses the rollup on the upheld fraud proof it finds there.")
	if _, err := n.wallet(ctx, d.u, "guardian", "watch", "--on", "fraud", "--from-height", fmt.Sprint(d.fraudFrom), "--exit-after-pause",
		"--guardian-key", n.guardianKeystore(1), "--guardian-shares", n.guardianShare(1)+","+n.guardianShare(2), "--l1-key", "alice"); err != nil {
		return "", err
	}
	var st struct {
		Paused bool   `json:"paused"`
		Nonce  uint64 `json:"guardianNonce"`
	}
	if _, err := n.wallet(ctx, d.u, "guardian", "status"); err != nil {
		return "", err
	}
	if err := n.walletJSON(ctx, &st, "guardian", "status"); err != nil {
		return "", err
	}
	if !st.Paused {
		return "", errors.New("the watcher exited but the rollup is not paused")
	}
	for _, args := range [][]string{
		{"deposit", "1000", "--to-l2", "carol", "--l1-key", "alice", "--wait"},
		{"claim", "--tx", d.largeTx, "--l1-key", "alice", "--wait"},
	} {
		d.u.command("pqwallet " + strings.Join(args, " "))
		out, err := n.walletRaw(ctx, args...)
		if err == nil || !strings.Contains(out, "rollup paused") {
			return "", fmt.Errorf("pqwallet %s while paused: %v, want the paused error: %s", args[0], err, out)
		}
		d.u.note("refused: %s", lastLine(out))
	}
	d.u.note("Guardians 1 and 2 each sign the unpause on their own machine (offline, at guardian nonce %d); anyone combines", st.Nonce)
	d.u.note("the files and sends the action.")
	var files []string
	for i := 1; i <= 2; i++ {
		f := filepath.Join(n.dir, fmt.Sprintf("unpause.guardian%d.json", i))
		if _, err := n.wallet(ctx, d.u, "guardian", "sign", "unpause", "--guardian-key", n.guardianKeystore(i), "--nonce", fmt.Sprint(st.Nonce), "--out", f); err != nil {
			return "", err
		}
		files = append(files, f)
	}
	action := filepath.Join(n.dir, "unpause.action.json")
	if _, err := n.wallet(ctx, d.u, append(append([]string{"guardian", "combine"}, files...), "--out", action)...); err != nil {
		return "", err
	}
	if _, err := n.wallet(ctx, d.u, "guardian", "submit", action, "--l1-key", "alice", "--wait"); err != nil {
		return "", err
	}
	if err := n.walletJSON(ctx, &st, "guardian", "status"); err != nil {
		return "", err
	}
	if st.Paused {
		return "", errors.New("the unpause was included but the rollup is still paused")
	}
	if _, err := n.wallet(ctx, d.u, "deposit", "1000", "--to-l2", "carol", "--l1-key", "alice", "--wait"); err != nil {
		return "", err
	}
	return "paused by the watcher on the upheld fraud; deposit and claim refused; unpaused by 2 of 3 signatures; a deposit passes", nil
}

// waitClaimable waits until the withdrawal hash is in a final batch on L1.
func (d *demo) waitClaimable(ctx context.Context, hash string) error {
	p := d.u.progress("the withdrawal's batch final on L1")
	var st struct {
		Settlement string  `json:"settlement"`
		Batch      *uint64 `json:"batch"`
		Claimed    *bool   `json:"claimed"`
	}
	err := waitUntil(ctx, time.Hour, "the withdrawal's batch final", func() (bool, error) {
		if err := d.n.walletJSON(ctx, &st, "status", "tx", hash); err != nil {
			return false, err
		}
		p.update("settlement "+st.Settlement, 0, 0)
		return st.Settlement == "final" && st.Batch != nil && st.Claimed != nil, nil
	})
	if err != nil {
		return err
	}
	p.end(fmt.Sprintf("batch %d final", *st.Batch))
	return nil
}

// delayed: the claim of step 7's large withdrawal is queued, not paid ("delayed until height H");
// the release after the delay pays it, once.
func (d *demo) delayed(ctx context.Context) (string, error) {
	n := d.n
	start, err := n.l1.Status(ctx)
	if err != nil {
		return "", err
	}
	before, err := n.l1.Account(ctx, n.alice)
	if err != nil {
		return "", err
	}
	out, err := n.wallet(ctx, d.u, "claim", "--tx", d.largeTx, "--l1-key", "alice", "--wait")
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, "delayed until height") {
		return "", fmt.Errorf("the claim of %d did not report the governor's delay: %s", withdrawLarge, out)
	}
	var st struct {
		Claimed      *bool   `json:"claimed"`
		DelayedUntil *uint64 `json:"delayedUntil"`
	}
	if _, err := n.wallet(ctx, d.u, "status", "tx", d.largeTx); err != nil {
		return "", err
	}
	if err := n.walletJSON(ctx, &st, "status", "tx", d.largeTx); err != nil {
		return "", err
	}
	if st.Claimed == nil || *st.Claimed || st.DelayedUntil == nil {
		return "", fmt.Errorf("status tx of the delayed withdrawal: claimed %v, delayed until %v; want not claimed, delayed", st.Claimed, st.DelayedUntil)
	}
	mid, err := n.l1.Account(ctx, n.alice)
	if err != nil {
		return "", err
	}
	if mid.Balance >= before.Balance {
		return "", fmt.Errorf("alice's L1 balance went from %d to %d with the withdrawal delayed, want only the claim's fee off", before.Balance, mid.Balance)
	}
	if _, err := n.wallet(ctx, d.u, "release", "--tx", d.largeTx, "--l1-key", "alice", "--wait"); err != nil {
		return "", err
	}
	if err := n.checkPaidOut(ctx, "alice", n.alice, before, start.Height, withdrawLarge, "the claim's and release's fees"); err != nil {
		return "", err
	}
	args := []string{"release", "--tx", d.largeTx, "--l1-key", "alice", "--wait"}
	d.u.command("pqwallet " + strings.Join(args, " "))
	out, err = n.walletRaw(ctx, args...)
	if err == nil || !strings.Contains(out, "already released") {
		return "", fmt.Errorf("a second release: %v, want it refused as already released: %s", err, out)
	}
	d.u.note("released again: refused: %s", lastLine(out))
	return fmt.Sprintf("%d claimed, delayed until height %d, released after the delay and paid once", withdrawLarge, *st.DelayedUntil), nil
}
