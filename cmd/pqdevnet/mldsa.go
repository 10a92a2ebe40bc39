package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

// Amounts of the ML-DSA step.
const (
	depositQuinn  = 50_000
	transferQuinn = 2_000
	withdrawQuinn = 3_000
)

// mldsa: an ML-DSA-65 (post-quantum) L2 account: alice deposits to a new key quinn, quinn
// transfers to carol and withdraws to alice; the batch holding them is optimistic (the circuit
// does not check ML-DSA), final after its window, and alice claims the withdrawal on L1.
func (d *demo) mldsa(ctx context.Context) (string, error) {
	n := d.n
	d.u.note("An ML-DSA-65 L2 key: its account's leaf holds (0, SHA-256 of the public key); its transactions")
	d.u.note("carry a 3,309-byte signature in the batch data on L1, so their batches settle optimistically.")
	if _, err := n.wallet(ctx, d.u, "key", "new", "--l2", "--pq", "quinn"); err != nil {
		return "", err
	}
	carol, err := d.l2Balance(ctx, "carol")
	if err != nil {
		return "", err
	}
	if _, err := n.wallet(ctx, d.u, "deposit", fmt.Sprint(depositQuinn), "--to-l2", "quinn", "--l1-key", "alice", "--wait"); err != nil {
		return "", err
	}
	var quinn struct {
		balance
		KeyKind string `json:"keyKind"`
	}
	p := d.u.progress("the sequencer credits quinn's deposit")
	err = waitUntil(ctx, time.Hour, "quinn's deposit on L2", func() (bool, error) {
		var bs []struct {
			balance
			KeyKind string `json:"keyKind"`
		}
		if err := n.walletJSON(ctx, &bs, "balance", "quinn", "--l2"); err != nil || len(bs) != 1 {
			return false, nil
		}
		quinn.balance, quinn.KeyKind = bs[0].balance, bs[0].KeyKind
		p.update(fmt.Sprintf("quinn %v", quinn.balance), 0, 0)
		return quinn.Exists && quinn.Balance == depositQuinn, nil
	})
	if err != nil {
		return "", err
	}
	if quinn.KeyKind != "mldsa" {
		return "", fmt.Errorf("quinn's L2 account has key kind %q, want mldsa", quinn.KeyKind)
	}
	p.end(fmt.Sprintf("quinn is L2 account %d, key kind %s", *quinn.Index, quinn.KeyKind))
	from := fmt.Sprint(*quinn.Index)
	if _, err := n.wallet(ctx, d.u, "transfer", "--from", from, "--to", fmt.Sprint(d.carol), fmt.Sprint(transferQuinn), "--wait"); err != nil {
		return "", err
	}
	start, err := n.l1.Status(ctx)
	if err != nil {
		return "", err
	}
	before, err := n.l1.Account(ctx, n.alice)
	if err != nil {
		return "", err
	}
	out, err := n.wallet(ctx, d.u, "withdraw", fmt.Sprint(withdrawQuinn), "--to", "alice", "--from", from, "--wait")
	if err != nil {
		return "", err
	}
	m := txHash.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pqwallet withdraw printed no transaction hash: %q", out)
	}
	hash := m[1]
	if err := d.expectL2(ctx, map[string]uint64{"quinn": depositQuinn - transferQuinn - withdrawQuinn, "carol": carol.Balance + transferQuinn}); err != nil {
		return "", err
	}
	batch, err := d.waitTxFinal(ctx, hash)
	if err != nil {
		return "", err
	}
	rec, err := n.l1.Batch(ctx, rollupID, batch)
	if err != nil {
		return "", err
	}
	if rec.Mode != l1api.ModeOptimistic {
		return "", fmt.Errorf("batch %d holds ML-DSA transactions but was posted in mode %d, not optimistic", batch, rec.Mode)
	}
	size, err := d.batchDataSize(ctx, batch)
	if err != nil {
		return "", err
	}
	if _, err := n.wallet(ctx, d.u, "claim", "--tx", hash, "--l1-key", "alice", "--wait"); err != nil {
		return "", err
	}
	if err := n.checkPaidOut(ctx, "alice", n.alice, before, start.Height, withdrawQuinn, "the claim's fee"); err != nil {
		return "", err
	}
	if _, err := n.wallet(ctx, d.u, "balance", "quinn"); err != nil {
		return "", err
	}
	return fmt.Sprintf("ML-DSA account %d: transfer and withdrawal in optimistic batch %d (%s), claimed on L1", *quinn.Index, batch, size), nil
}

// waitTxFinal waits until the L2 transaction hash is in a final batch on L1 and returns it.
func (d *demo) waitTxFinal(ctx context.Context, hash string) (uint64, error) {
	p := d.u.progress("the batch holding it final on L1")
	var st struct {
		Settlement string  `json:"settlement"`
		Batch      *uint64 `json:"batch"`
		Claimed    *bool   `json:"claimed"`
	}
	err := waitUntil(ctx, time.Hour, "the transaction's batch final", func() (bool, error) {
		if err := d.n.walletJSON(ctx, &st, "status", "tx", hash); err != nil {
			return false, err
		}
		status := "settlement " + st.Settlement
		if st.Batch != nil {
			status += fmt.Sprintf(", in batch %d", *st.Batch)
		}
		p.update(status, 0, 0)
		return st.Settlement == "final" && st.Batch != nil && st.Claimed != nil, nil
	})
	if err != nil {
		return 0, err
	}
	p.end(fmt.Sprintf("batch %d", *st.Batch))
	return *st.Batch, nil
}

// batchDataSize reads batch n's data from L1 and says how many bytes each transaction takes:
// 160 per record and 3,309 more per ML-DSA signature, before and after zstd.
func (d *demo) batchDataSize(ctx context.Context, n uint64) (string, error) {
	frame, err := d.n.l1.BatchData(ctx, rollupID, n)
	if err != nil {
		return "", err
	}
	data, err := l1api.DecompressBatch(frame)
	if err != nil {
		return "", fmt.Errorf("batch %d data: %w", n, err)
	}
	txs, _, err := l2.DecodeBatchData(data)
	if err != nil {
		return "", fmt.Errorf("batch %d data: %w", n, err)
	}
	pq := 0
	for _, tx := range txs {
		if tx.Type.MLDSA() {
			pq++
		}
	}
	if pq == 0 {
		return "", fmt.Errorf("batch %d holds no ML-DSA transaction", n)
	}
	k := len(txs)
	d.u.note("batch %d data: %d transactions (%d ML-DSA), %d bytes, %d per transaction (%d per EdDSA or deposit record, %d per ML-DSA one); %d bytes zstd on L1 (%d per transaction)",
		n, k, pq, len(data), len(data)/k, l2.TxSize, l2.TxSize+l2.MLDSASigSize, len(frame), len(frame)/k)
	return fmt.Sprintf("%d txs, %d ML-DSA, %d data bytes per tx", k, pq, len(data)/k), nil
}
