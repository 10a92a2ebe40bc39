package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

// withdrawalJSON is one withdrawal of a batch: entry Index of its withdrawal list.
type withdrawalJSON struct {
	Index   int            `json:"index"`
	Address common.Address `json:"address"`
	Amount  uint64         `json:"amount"`
}

// batchTxs reads batch n's transactions from the data L1 stores with it.
func batchTxs(ctx context.Context, c *l1client.Client, rollupID, n uint64) ([]l2.Tx, error) {
	frame, err := c.BatchData(ctx, rollupID, n)
	if err != nil {
		return nil, err
	}
	data, err := l1api.DecompressBatch(frame)
	if err != nil {
		return nil, fmt.Errorf("batch %d data: %w", n, err)
	}
	txs, _, err := l2.DecodeBatchData(data)
	if err != nil {
		return nil, fmt.Errorf("batch %d data: %w", n, err)
	}
	return txs, nil
}

// replay rebuilds the rollup's state after batch through from the batch data on L1 alone,
// checking every batch's new root against L1's record. This is the data-availability path:
// it needs no sequencer, which is what exodus relies on.
func replay(ctx context.Context, c *l1client.Client, r *l1api.Rollup, through uint64) (*l2.State, error) {
	st, err := l2.NewState(int(r.Config.TreeDepth))
	if err != nil {
		return nil, err
	}
	for n := uint64(1); n <= through; n++ {
		rec, err := c.Batch(ctx, r.ID, n)
		if err != nil {
			return nil, fmt.Errorf("replaying rollup %d: batch %d: %w", r.ID, n, err)
		}
		txs, err := batchTxs(ctx, c, r.ID, n)
		if err != nil {
			return nil, fmt.Errorf("replaying rollup %d: %w", r.ID, err)
		}
		res := st.ApplyBatch(txs, l2.ApplyOptions{ChainID: r.Config.L2ChainID})
		if got := res.FinalRoot.Bytes(); got != rec.NewRoot {
			return nil, fmt.Errorf("replaying rollup %d: batch %d gives root %x, L1 recorded %x", r.ID, n, got, rec.NewRoot)
		}
	}
	return st, nil
}

// batchWithdrawals is batch n's withdrawal list (wleaf, docs/protocol.md §8.3) and the
// withdrawals in it. When every withdraw of the batch applied, the list follows from the batch
// data alone; otherwise (a failing withdraw has an empty leaf) the state before the batch is
// replayed from L1 to learn which did. Either way the list must give L1's withdrawal root.
func batchWithdrawals(ctx context.Context, c *l1client.Client, r *l1api.Rollup, rec *l1api.BatchRecord) ([]fr.Element, []withdrawalJSON, error) {
	txs, err := batchTxs(ctx, c, r.ID, rec.Number)
	if err != nil {
		return nil, nil, err
	}
	leaves := l2.WithdrawalLeaves(txs)
	if listRoot(leaves) != rec.WithdrawalRoot {
		st, err := replay(ctx, c, r, rec.Number-1)
		if err != nil {
			return nil, nil, err
		}
		leaves = st.ApplyBatch(txs, l2.ApplyOptions{ChainID: r.Config.L2ChainID}).WithdrawalLeaves
		if listRoot(leaves) != rec.WithdrawalRoot {
			return nil, nil, fmt.Errorf("batch %d: its data does not give the withdrawal root L1 recorded", rec.Number)
		}
	}
	var ws []withdrawalJSON
	for k := range txs {
		if !leaves[k].IsZero() {
			ws = append(ws, withdrawalJSON{Index: k, Address: txs[k].Address, Amount: txs[k].Amount})
		}
	}
	return leaves, ws, nil
}

func listRoot(leaves []fr.Element) [32]byte {
	root := l2.ListRoot(leaves)
	return root.Bytes()
}

// batch reads batch n of r, naming the rollup's head and final batch when there is none.
func batch(ctx context.Context, c *l1client.Client, r *l1api.Rollup, n uint64) (*l1api.BatchRecord, error) {
	rec, err := c.Batch(ctx, r.ID, n)
	if errors.Is(err, l1api.ErrNotFound) {
		return nil, fmt.Errorf("rollup %d has no batch %d on L1 (head batch %d, final through %d)", r.ID, n, r.HeadNumber, r.FinalNumber)
	}
	return rec, err
}

// notFinal says why batch n cannot be claimed yet.
func notFinal(r *l1api.Rollup, rec *l1api.BatchRecord, height uint64) string {
	return fmt.Sprintf("batch %d of rollup %d is not final yet: final through batch %d; it can finalize at L1 height %d at the earliest (now %d)",
		rec.Number, r.ID, r.FinalNumber, rec.FinalizeAt, height)
}

func (a *app) claimCommand() *cobra.Command {
	var (
		batchN uint64
		index  int
		txHash string
		l1Key  string
		wait   bool
	)
	cmd := &cobra.Command{
		Use:   "claim --batch N --index K | --tx HASH",
		Short: "Claim withdrawal K of finalized batch N on L1, or the withdrawal of an L2 withdraw",
		Long: `Claim a withdrawal on L1: entry K of batch N's withdrawal list ("pqwallet status batch N" lists
them) is paid to the L1 address its withdraw named. The wallet reads the batch data from L1,
rebuilds the withdrawal list, checks it against the root L1 recorded, and submits the Merkle proof
of entry K, signed by --l1-key (anyone may submit a claim; the payee is fixed by the withdraw).
A withdrawal L1 has already paid is refused before anything is signed.

With --tx HASH instead of --batch and --index, the wallet finds them: the sequencer names the
batches holding the withdraw's L2 block, and the withdraw's position in their L1 data is K.

The batch must be final; with --wait the wallet waits for it (and, with --tx, for the withdraw to
be in a batch on L1), up to --timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withWithdrawal(cmd, l1Key, withdrawalRef{txHash: txHash, batch: batchN, index: index}, wait, func(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, r *l1api.Rollup, batchN uint64, index int) error {
				return a.claim(ctx, c, key, r, batchN, index, wait)
			})
		},
	}
	cmd.Flags().Uint64Var(&batchN, "batch", 0, "the L1 batch number holding the withdrawal")
	cmd.Flags().IntVar(&index, "index", 0, "the withdrawal's position in the batch (its transaction's position; see pqwallet status batch N)")
	cmd.Flags().StringVar(&txHash, "tx", "", "the L2 withdraw's transaction hash, instead of --batch and --index")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key signing the claim (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the batch to finalize and the claim to be in an L1 block, up to --timeout")
	cmd.MarkFlagsRequiredTogether("batch", "index")
	cmd.MarkFlagsOneRequired("tx", "batch")
	cmd.MarkFlagsMutuallyExclusive("tx", "batch")
	cmd.MarkFlagsMutuallyExclusive("tx", "index")
	return cmd
}

// claim claims withdrawal index of batch n, signed by key: it waits for the batch to finalize
// with wait, checks the entry is a withdrawal L1 has not paid, and sends the Merkle proof.
func (a *app) claim(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, r *l1api.Rollup, n uint64, index int, wait bool) error {
	rec, err := batch(ctx, c, r, n)
	if err != nil {
		return err
	}
	if n > r.FinalNumber {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if !wait {
			return fmt.Errorf("%s; run again with --wait to wait for it", notFinal(r, rec, st.Height))
		}
		a.progress("%s; waiting", notFinal(r, rec, st.Height))
		if r, rec, err = waitFinal(ctx, c, r.ID, n); err != nil {
			return err
		}
	}
	leaves, ws, err := batchWithdrawals(ctx, c, r, rec)
	if err != nil {
		return err
	}
	if index < 0 || index >= len(leaves) || leaves[index].IsZero() {
		return fmt.Errorf("entry %d of batch %d is not a withdrawal; its withdrawals are %s", index, n, listWithdrawals(ws))
	}
	var w withdrawalJSON
	for _, x := range ws {
		if x.Index == index {
			w = x
		}
	}
	// L1 refuses a second claim in its block too; asking first spares the signature and a
	// spent L1 nonce. A proven read answers for a certified height, which trails the head where
	// the batch was seen final: it waits for one at or above the head's height now.
	head, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if st, err := a.funds(c, head.Height).Withdrawal(ctx, r.ID, n, uint64(index)); err != nil {
		return err
	} else if st.Delayed && !st.Released {
		return fmt.Errorf("withdrawal %d of batch %d of rollup %d was already claimed and is %s", index, n, r.ID, delayedLine(st, n, index))
	} else if st.Claimed {
		return fmt.Errorf("withdrawal %d of batch %d of rollup %d was already claimed: %d to %s; L1 pays each withdrawal once",
			index, n, r.ID, w.Amount, w.Address.Hex())
	}
	err = a.sendL1(ctx, c, key, l1Tx{typ: l1api.TxClaimWithdrawal,
		payload: &l1api.ClaimWithdrawal{RollupID: r.ID, Batch: n, Index: uint64(index), Address: w.Address, Amount: w.Amount,
			Siblings: l1api.ListWitness(leaves, index)},
		details: map[string]any{"rollup": r.ID, "batch": n, "index": index, "address": w.Address, "amount": w.Amount},
		summary: fmt.Sprintf("claim withdrawal %d of batch %d: %d to %s", index, n, w.Amount, w.Address.Hex())}, wait)
	if err != nil || !wait {
		return err
	}
	return a.reportDelayed(ctx, c, r.ID, n, index)
}

func listWithdrawals(ws []withdrawalJSON) string {
	if len(ws) == 0 {
		return "none"
	}
	s := ""
	for i, w := range ws {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d (%d to %s)", w.Index, w.Amount, w.Address.Hex())
	}
	return s
}

// waitFinal polls the rollup until batch n is final; a batch that disappears was reverted. It
// polls through a restart of the L1 node (the client redials) until ctx ends.
func waitFinal(ctx context.Context, c *l1client.Client, rollupID, n uint64) (*l1api.Rollup, *l1api.BatchRecord, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		r, err := c.Rollup(ctx, rollupID)
		var rec *l1api.BatchRecord
		if err == nil {
			if rec, err = batch(ctx, c, r, n); err != nil && !errors.Is(err, l1client.ErrDisconnected) {
				return nil, nil, fmt.Errorf("waiting for batch %d to finalize: %w (reverted?)", n, err)
			}
		}
		switch {
		case err != nil && !errors.Is(err, l1client.ErrDisconnected):
			return nil, nil, err
		case err == nil && r.FinalNumber >= n:
			return r, rec, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("batch %d of rollup %d still not final: %w", n, rollupID, ctx.Err())
		case <-t.C:
		}
	}
}

func (a *app) exodusCommand() *cobra.Command {
	var (
		index uint32
		l2Key string
		to    string
		l1Key string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   "exodus --index I",
		Short: "Withdraw an L2 account's whole balance on L1 once the rollup is frozen",
		Long: `Exit a frozen rollup: when no batch has finalized for the rollup's exodus timeout, L1 freezes it
and pays each account of the last finalized state on proof. The wallet rebuilds that state from
the batch data stored on L1 (no sequencer needed), checks it against L1's last finalized root,
takes the Merkle proof of l2 account --index, signs the exodus message with the account's L2 key
and submits it with --l1-key. The whole balance is paid to --to. An account that has already
exited is refused before anything is signed. A deposit that no finalized batch consumed is in no
account of that state: "pqwallet exodus refund" pays it back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k1, err := a.defaultL1Key(l1Key)
			if err != nil {
				return err
			}
			recipient := k1.Info.Public.Address
			if to != "" {
				if recipient, err = a.l1Address(to); err != nil {
					return err
				}
			}
			return a.withRollup(cmd, nil, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				if err := exodusOpen(ctx, c, r); err != nil {
					return err
				}
				// L1 refuses a second exit in its block too; asking first spares the replay, the
				// signature and a spent L1 nonce.
				if exited, err := c.Exited(ctx, r.ID, index); err != nil {
					return err
				} else if exited {
					return fmt.Errorf("l2 account %d of rollup %d has already exited: L1 pays each account once", index, r.ID)
				}
				a.progress("rebuilding rollup %d's state through its last final batch %d from L1 data", r.ID, r.FinalNumber)
				state, err := replay(ctx, c, r, r.FinalNumber)
				if err != nil {
					return err
				}
				if root := state.Root(); root.Bytes() != r.FinalRoot {
					return fmt.Errorf("the state rebuilt from L1 data has root %x, L1's last finalized root is %x", root.Bytes(), r.FinalRoot)
				}
				acct, ok := state.Account(index)
				if !ok {
					return fmt.Errorf("l2 account %d is not in the last finalized state (batch %d): exodus pays only accounts of that state; a deposit no finalized batch consumed (%d of %d were) goes back to its depositor by pqwallet exodus refund instead",
						index, r.FinalNumber, r.FinalConsumed, r.QueueLen)
				}
				if acct.Balance == 0 {
					return fmt.Errorf("l2 account %d has balance 0 in the last finalized state: nothing to withdraw", index)
				}
				k2, err := a.l2KeyFor(l2Key, index, acct.PubKey)
				if err != nil {
					return err
				}
				witness, err := state.Witness(index)
				if err != nil {
					return err
				}
				p := l1api.ExodusWithdrawal{RollupID: r.ID, Index: index, PKX: acct.PubKey.X.Bytes(), PKY: acct.PubKey.Y.Bytes(),
					Balance: acct.Balance, L2Nonce: acct.Nonce, Recipient: recipient}
				if err := a.signExodus(k2, r.Config.L2ChainID, &p); err != nil {
					return err
				}
				for _, s := range witness {
					p.Siblings = append(p.Siblings, s.Bytes())
				}
				return a.sendL1As(ctx, k1, l1Tx{typ: l1api.TxExodusWithdrawal, payload: &p,
					details: map[string]any{"rollup": r.ID, "index": index, "balance": acct.Balance, "recipient": recipient},
					summary: fmt.Sprintf("exodus of l2 account %d: %d to %s", index, acct.Balance, recipient.Hex())}, wait)
			})
		},
	}
	cmd.AddCommand(a.exodusRefundCommand())
	cmd.Flags().Uint32Var(&index, "index", 0, "the l2 account to exit")
	cmd.Flags().StringVar(&l2Key, "key", "", "the L2 key holding the account (default: the wallet's L2 key that does)")
	cmd.Flags().StringVar(&to, "to", "", "the L1 address paid, or a wallet L1 key's name (default: --l1-key's address)")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key submitting the exit (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until an L1 block includes the exit, up to --timeout")
	cmd.MarkFlagRequired("index")
	return cmd
}

// exodusOpen refuses a rollup that pays no exodus now: one not frozen, with the height it can
// freeze at, or one its guardians paused.
func exodusOpen(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
	if !r.Frozen {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return fmt.Errorf("rollup %d is not frozen: exodus opens after %d L1 blocks without a finalized batch; the last finalization was at height %d, so not before height %d (now %d)",
			r.ID, r.Config.ExodusTimeout, r.FinalHeight, r.FinalHeight+r.Config.ExodusTimeout, st.Height)
	}
	if r.Paused {
		return fmt.Errorf("rollup %d is paused by its guardians: exits wait for the unpause", r.ID)
	}
	return nil
}

// refundJSON is a deposit that an exodus refund pays back: entry QueueIndex of the rollup's
// deposit queue.
type refundJSON struct {
	QueueIndex  uint64         `json:"queueIndex"`
	Depositor   common.Address `json:"depositor"`
	Key         string         `json:"key,omitempty"` // the wallet's L1 key of the depositor
	Amount      uint64         `json:"amount"`
	L2PublicKey string         `json:"l2PublicKey"`
	Height      uint64         `json:"height"` // the L1 block of the deposit
}

func refundOut(j uint64, d *l1api.DepositEntry, key string) refundJSON {
	var pk l2.PublicKey // canonical: L1 checked it at the deposit
	pk.X.SetBytes(d.PKX[:])
	pk.Y.SetBytes(d.PKY[:])
	return refundJSON{QueueIndex: j, Depositor: d.Depositor, Key: key, Amount: d.Amount, L2PublicKey: pkHex(pk), Height: d.Height}
}

func (a *app) exodusRefundCommand() *cobra.Command {
	var (
		l1Key string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   "refund [QUEUE-INDEX]",
		Short: "After the freeze, pay a deposit no finalized batch consumed back to its depositor, or list the refundable ones",
		Long: `Refund a deposit after the freeze: a deposit that no finalized batch consumed (entry QUEUE-INDEX of
the rollup's deposit queue, at or after the finalized batches' consumed index) is in no account
of the last finalized state, so exodus cannot pay it; L1 pays it back, once, to the L1 address
that deposited it. Anyone may send the refund, so --l1-key only signs it (default: the wallet's
L1 key that made the deposit, else its only L1 key); the amount goes to the depositor.

Without QUEUE-INDEX, list the deposits of the wallet's L1 keys that are still refundable (one
query per unconsumed deposit).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var j uint64
			if len(args) == 1 {
				var err error
				if j, err = strconv.ParseUint(args[0], 10, 64); err != nil {
					return fmt.Errorf("deposit queue index %q: want a number (pqwallet exodus refund without one lists the wallet's refundable deposits)", args[0])
				}
			}
			return a.withRollup(cmd, nil, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				if err := exodusOpen(ctx, c, r); err != nil {
					return err
				}
				ks, err := a.keysOfKind(keystore.KindL1)
				if err != nil {
					return err
				}
				keyOf := make(map[common.Address]namedKey, len(ks))
				for _, k := range ks {
					keyOf[k.Info.Public.Address] = k
				}
				if len(args) == 0 {
					return a.listRefunds(ctx, c, r, keyOf)
				}
				if j >= r.QueueLen {
					return fmt.Errorf("rollup %d has no deposit %d: its queue holds %d", r.ID, j, r.QueueLen)
				}
				if j < r.FinalConsumed {
					return fmt.Errorf("deposit %d of rollup %d was consumed by a finalized batch (they consumed deposits 0..%d): it is in an l2 account of the last finalized state, which pqwallet exodus --index pays",
						j, r.ID, r.FinalConsumed-1)
				}
				d, err := c.Deposit(ctx, r.ID, j)
				if err != nil {
					return err
				}
				if refunded, err := c.Refunded(ctx, r.ID, j); err != nil {
					return err
				} else if refunded {
					return fmt.Errorf("deposit %d of rollup %d was already refunded: %d to %s", j, r.ID, d.Amount, d.Depositor.Hex())
				}
				k, ok := keyOf[d.Depositor]
				if !ok || l1Key != "" {
					if k, err = a.defaultL1Key(l1Key); err != nil {
						return err
					}
				}
				return a.sendL1As(ctx, k, l1Tx{typ: l1api.TxExodusRefund, payload: &l1api.ExodusRefund{RollupID: r.ID, Index: j},
					details: map[string]any{"rollup": r.ID, "queueIndex": j, "depositor": d.Depositor, "amount": d.Amount},
					summary: fmt.Sprintf("exodus refund of deposit %d: %d to %s", j, d.Amount, d.Depositor.Hex())}, wait)
			})
		},
	}
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key sending the refund (default: the wallet's key that made the deposit, else its only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until an L1 block includes the refund, up to --timeout")
	return cmd
}

// listRefunds prints the deposits of the wallet's L1 keys that no finalized batch consumed and
// no refund has paid back yet.
func (a *app) listRefunds(ctx context.Context, c *l1client.Client, r *l1api.Rollup, keyOf map[common.Address]namedKey) error {
	if len(keyOf) == 0 {
		return fmt.Errorf("no L1 keys in %s to list the deposits of; give the deposit's queue index to refund any deposit", a.keysDir())
	}
	out := []refundJSON{}
	for j := r.FinalConsumed; j < r.QueueLen; j++ {
		d, err := c.Deposit(ctx, r.ID, j)
		if err != nil {
			return err
		}
		k, ok := keyOf[d.Depositor]
		if !ok {
			continue
		}
		refunded, err := c.Refunded(ctx, r.ID, j)
		if err != nil {
			return err
		}
		if !refunded {
			out = append(out, refundOut(j, d, k.Name))
		}
	}
	return a.print(out, func(p *printer) {
		if len(out) == 0 {
			p.line("no refundable deposits of the wallet's L1 keys in rollup %d (finalized batches consumed %d of its %d deposits)", r.ID, r.FinalConsumed, r.QueueLen)
			return
		}
		for _, d := range out {
			p.line("deposit %d: %d from %s (key %s) for L2 key %s, at L1 height %d", d.QueueIndex, d.Amount, d.Depositor.Hex(), d.Key, short(d.L2PublicKey), d.Height)
		}
		p.line("pqwallet exodus refund QUEUE-INDEX pays one back")
	})
}

// txStatusJSON is what status tx prints: the receipt, the settlement of its block and, once L1
// accepted the batch holding it, where it is on L1. Unknown fields are omitted.
type txStatusJSON struct {
	*rollupapi.Receipt
	Settlement      string  `json:"settlement,omitempty"`
	Batch           *uint64 `json:"batch,omitempty"`           // the L1 batch holding the transaction
	WithdrawalIndex *int    `json:"withdrawalIndex,omitempty"` // a withdraw's entry of the batch's withdrawal list
	Claimed         *bool   `json:"claimed,omitempty"`         // whether L1 paid the withdrawal, once the batch is final
	DelayedUntil    *uint64 `json:"delayedUntil,omitempty"`    // a claim held in the governor's delay queue: the height it can be released at
	DelayedID       *uint64 `json:"delayedId,omitempty"`       // its id in the rollup's delay queue
}

func (a *app) statusCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "status", Short: "Status of an L2 transaction or of an L1 batch"}
	cmd.AddCommand(&cobra.Command{
		Use:   "tx HASH",
		Short: "An L2 transaction's receipt, the settlement of its block and, for a withdraw, how to claim it",
		Long: `Show an L2 transaction's receipt at the sequencer and the settlement of its block (soft,
committed, final). Once L1 has accepted the batch holding it, the wallet finds the transaction in
that batch's L1 data and shows the batch; for a withdraw also its entry of the batch's withdrawal
list and, once the batch is final, whether L1 has paid it, or the claim command that does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hash, err := parseTxHash(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := a.withTimeout(cmd)
			defer cancel()
			seq, err := a.sequencerClient(ctx)
			if err != nil {
				return err
			}
			defer seq.rpc.Close()
			r, st, err := seq.txSettlement(ctx, hash, false)
			if err != nil {
				return err
			}
			out := txStatusJSON{Receipt: r}
			var place *l1Place
			if st != nil {
				out.Settlement = st.Settlement
				if place, err = a.locate(ctx, hash, st); err != nil {
					return err
				}
			}
			if place != nil {
				out.Batch = &place.rec.Number
				if place.tx.Type.PaysOut() {
					out.WithdrawalIndex, out.Claimed = &place.index, place.claimed
					if d := place.delayed; d != nil {
						out.DelayedUntil, out.DelayedID = &d.ReleaseAt, &d.DelayedID
					}
				}
			}
			return a.print(out, func(p *printer) {
				p.line("tx %s", hash.Hex())
				if !r.Included {
					p.line("status %s", r.Status)
					return
				}
				p.line("status %s: l2 block %d, position %d; settlement %s", r.Status, uint64(*r.Block), uint64(*r.Position), out.Settlement)
				if place == nil {
					return
				}
				p.line("in L1 batch %d of rollup %d at position %d", place.rec.Number, place.rollup.ID, place.index)
				if out.WithdrawalIndex == nil {
					return
				}
				w := fmt.Sprintf("withdrawal %d of batch %d (%d to %s)", place.index, place.rec.Number, place.tx.Amount, common.Address(place.tx.Address).Hex())
				switch {
				case place.delayed != nil:
					p.line("%s: %s", w, delayedLine(place.delayed, place.rec.Number, place.index))
				case out.Claimed != nil && *out.Claimed:
					p.line("%s: claimed", w)
				case out.Claimed != nil:
					p.line("%s: not claimed; claim it with: %s", w, claimCommandLine(place.rec.Number, place.index))
				default:
					p.line("%s: %s; once final: %s (pqwallet claim --tx %s --wait waits for it)", w, place.pending,
						claimCommandLine(place.rec.Number, place.index), hash.Hex())
				}
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "batch N",
		Short: "An L1 batch of the rollup: mode, finality and its withdrawals",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || n == 0 {
				return fmt.Errorf("batch number %q: batches are numbered from 1", args[0])
			}
			return a.withRollup(cmd, nil, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				rec, err := batch(ctx, c, r, n)
				if err != nil {
					return err
				}
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				_, ws, err := batchWithdrawals(ctx, c, r, rec)
				if err != nil {
					return err
				}
				mode := "validity"
				if rec.Mode == l1api.ModeOptimistic {
					mode = "optimistic"
				}
				out := struct {
					Rollup      uint64           `json:"rollup"`
					Number      uint64           `json:"number"`
					Mode        string           `json:"mode"`
					Final       bool             `json:"final"`
					TxCount     uint64           `json:"txCount"`
					SubmittedAt uint64           `json:"submittedAt"`
					FinalizeAt  uint64           `json:"finalizeAt"`
					Height      uint64           `json:"l1Height"`
					NewRoot     common.Hash      `json:"newRoot"`
					Withdrawals []withdrawalJSON `json:"withdrawals"`
				}{r.ID, n, mode, n <= r.FinalNumber, rec.TxCount, rec.SubmittedAt, rec.FinalizeAt, st.Height, rec.NewRoot, ws}
				return a.print(out, func(p *printer) {
					p.line("batch %d of rollup %d: %s, %d transactions, submitted at L1 height %d", n, r.ID, mode, rec.TxCount, rec.SubmittedAt)
					if out.Final {
						p.line("final")
					} else {
						p.line("%s", notFinal(r, rec, st.Height))
					}
					p.line("withdrawals: %s", listWithdrawals(ws))
				})
			})
		},
	})
	return cmd
}
