package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

// migrateResult is what migrate prints.
type migrateResult struct {
	From     migrateAccount `json:"from"`
	To       migrateAccount `json:"to"`
	Deposit  *l1Result      `json:"deposit,omitempty"` // the deposit that created the ML-DSA account, if one was needed
	Transfer *l2Result      `json:"transfer"`
}

type migrateAccount struct {
	Key     string `json:"key"`
	Index   uint32 `json:"index"`
	Balance uint64 `json:"balance"` // after the transfer with --wait, else before it
}

func (a *app) migrateCommand() *cobra.Command {
	var (
		from, to, l1Key string
		deposit         uint64
		wait            bool
	)
	cmd := &cobra.Command{
		Use:   "migrate --from EDDSA_KEY --to PQ_KEY",
		Short: "Move an EdDSA L2 account's whole balance to an ML-DSA-65 (post-quantum) L2 account",
		Long: `Move the whole balance of the l2 account of EdDSA key --from to the account of ML-DSA-65 key
--to (pqwallet key new --l2 --pq NAME). If --to has no l2 account yet, migrate first deposits
--deposit (default 1, the least a deposit may be) from --l1-key, which registers the ML-DSA public
key on L1, and waits for the sequencer to place it; then it transfers the EdDSA account's
balance, read just before signing, to it. Progress goes to stderr, one line per step. With
--wait it waits for the transfer's receipt and shows both balances after it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fk, err := a.key(from)
			if err != nil {
				return err
			}
			if fk.Info.Public.Kind != keystore.KindL2 {
				return fmt.Errorf("--from %s is an %s key: migrate moves the account of an EdDSA L2 key (%s)", from, fk.Info.Public.Kind, keystore.KindL2)
			}
			tk, err := a.key(to)
			if err != nil {
				return err
			}
			if tk.Info.Public.Kind != keystore.KindL2MLDSA {
				return fmt.Errorf("--to %s is an %s key: migrate moves to an ML-DSA-65 L2 key (%s; pqwallet key new --l2 --pq NAME)", to, tk.Info.Public.Kind, keystore.KindL2MLDSA)
			}
			res := &migrateResult{From: migrateAccount{Key: from}, To: migrateAccount{Key: to}}
			err = a.migrate(cmd, fk, tk, l1Key, deposit, wait, res)
			if res.Transfer != nil {
				if perr := a.printMigrate(res); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the EdDSA L2 key whose account is emptied")
	cmd.Flags().StringVar(&to, "to", "", "the ML-DSA-65 L2 key credited")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key paying the deposit that creates the ML-DSA account, if it has none (default: the wallet's only L1 key)")
	cmd.Flags().Uint64Var(&deposit, "deposit", 1, "the amount of that deposit")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the transfer's receipt and show the balances after it")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("to")
	return cmd
}

// migrate runs the steps of pqwallet migrate, filling res.
func (a *app) migrate(cmd *cobra.Command, fk, tk namedKey, l1Key string, deposit uint64, wait bool, res *migrateResult) error {
	ctx, cancel := a.withTimeout(cmd)
	defer cancel()
	seq, err := a.sequencerClient(ctx)
	if err != nil {
		return err
	}
	defer seq.rpc.Close()
	src, err := seq.lookup(ctx, fk.Info.Public.L2)
	if err != nil {
		return fmt.Errorf("--from %s: %w", fk.Name, err)
	}
	if src.Balance == 0 {
		return fmt.Errorf("l2 account %d of key %s has balance 0: nothing to migrate", src.Index, fk.Name)
	}
	a.progress("step 1/3: EdDSA key %s holds l2 account %d, balance %d", fk.Name, src.Index, uint64(src.Balance))
	dst, err := seq.lookup(ctx, tk.Info.Public.L2)
	switch {
	case errors.Is(err, errNoL2Account):
		if res.Deposit, err = a.migrateDeposit(ctx, tk, l1Key, deposit); err != nil {
			return err
		}
		if dst, err = waitAccount(ctx, seq, tk.Info.Public.L2); err != nil {
			return fmt.Errorf("the deposit for %s is on L1 (tx %s) but the sequencer has not placed it: %w", tk.Name, res.Deposit.TxHash.Hex(), err)
		}
		a.progress("step 2/3: the sequencer placed it: ML-DSA key %s holds l2 account %d, balance %d", tk.Name, dst.Index, uint64(dst.Balance))
	case err != nil:
		return err
	default:
		a.progress("step 2/3: ML-DSA key %s already holds l2 account %d (balance %d): no deposit needed", tk.Name, dst.Index, uint64(dst.Balance))
	}
	res.To.Index, res.To.Balance = dst.Index, uint64(dst.Balance)
	// The balance is read again: a deposit or transfer may have landed meanwhile.
	if src, err = seq.existing(ctx, src.Index); err != nil {
		return err
	}
	res.From.Index, res.From.Balance = src.Index, uint64(src.Balance)
	if src.Balance == 0 {
		return fmt.Errorf("l2 account %d of key %s has balance 0: nothing to migrate", src.Index, fk.Name)
	}
	a.progress("step 3/3: transferring the whole balance %d from l2 account %d to %d", uint64(src.Balance), src.Index, dst.Index)
	tx := &l2.Tx{Type: l2.TxTransfer, From: src.Index, To: dst.Index, Amount: uint64(src.Balance)}
	res.Transfer, err = a.sendL2(cmd, &l2SendFlags{from: src.Index, key: fk.Name, nonce: -1, wait: wait}, tx)
	if res.Transfer != nil {
		res.Transfer.To = &dst.Index
	}
	if err != nil || !wait {
		return err
	}
	for _, acct := range []*migrateAccount{&res.From, &res.To} {
		got, err := seq.existing(ctx, acct.Index)
		if err != nil {
			return err
		}
		acct.Balance = uint64(got.Balance)
	}
	return nil
}

// migrateDeposit deposits amount from the L1 key l1Key (or the wallet's only one) to the
// ML-DSA key tk and waits for its L1 block.
func (a *app) migrateDeposit(ctx context.Context, tk namedKey, l1Key string, amount uint64) (*l1Result, error) {
	if amount == 0 {
		return nil, fmt.Errorf("--deposit 0: a deposit must be at least 1")
	}
	k1, err := a.defaultL1Key(l1Key)
	if err != nil {
		return nil, fmt.Errorf("ML-DSA key %s has no l2 account, so migrate deposits to it first: %w", tk.Name, err)
	}
	a.progress("step 2/3: ML-DSA key %s has no l2 account: depositing %d from L1 key %s (%s) to create it", tk.Name, amount, k1.Name, k1.Info.Public.Address.Hex())
	key, err := a.unlockL1(k1)
	if err != nil {
		return nil, err
	}
	c, err := a.l1Client(ctx, key)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := a.rollup(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := depositAllowed(ctx, c, r, key, amount); err != nil {
		return nil, err
	}
	tx := depositTx(r, amount, l2Recipient{pk: tk.Info.Public.L2, mldsa: tk.Info.Public.MLDSA[:]})
	res, err := a.submitL1(ctx, c, key, tx.typ, tx.payload, true)
	if res != nil {
		res.Details = tx.details
	}
	if err != nil {
		return res, fmt.Errorf("deposit to %s: %w", tk.Name, err)
	}
	a.progress("        deposit included in L1 block %d (tx %s, fee %d); waiting for the sequencer to place it", res.Height, res.TxHash.Hex(), res.Fee)
	return res, nil
}

// waitAccount polls the sequencer until an account holds pk.
func waitAccount(ctx context.Context, seq *sequencerClient, pk l2.PublicKey) (*rollupapi.Account, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		acct, err := seq.lookup(ctx, pk)
		if !errors.Is(err, errNoL2Account) {
			return acct, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (--timeout)", ctx.Err())
		case <-t.C:
		}
	}
}

func (a *app) printMigrate(res *migrateResult) error {
	return a.print(res, func(p *printer) {
		if d := res.Deposit; d != nil {
			p.line("deposit %v for %s: L1 tx %s in block %d (fee %d)", d.Details["amount"], res.To.Key, d.TxHash.Hex(), d.Height, d.Fee)
		}
		t := res.Transfer
		p.line("transfer %d from l2 account %d (%s, EdDSA) to %d (%s, ML-DSA-65): tx %s", t.Amount, res.From.Index, res.From.Key, res.To.Index, res.To.Key, t.TxHash.Hex())
		if t.Receipt == nil {
			p.line("accepted by the sequencer; pqwallet status tx %s shows its receipt", t.TxHash.Hex())
			return
		}
		p.line("status %s: l2 account %d now has %d, l2 account %d has %d", t.Receipt.Status, res.From.Index, res.From.Balance, res.To.Index, res.To.Balance)
	})
}
