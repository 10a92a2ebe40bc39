package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

const (
	// lookupChunk is how many accounts one batched rollup_getAccount request reads while looking
	// up a key's index.
	lookupChunk = 64
	// lookupMax bounds that scan: 2^20 accounts is the sequencer's largest tested state; beyond
	// it give --index.
	lookupMax = 1 << 20
	// pollInterval is how often a --wait asks again; the sequencer builds a block every 50 ms and
	// the L1 node every second by default.
	pollInterval = 100 * time.Millisecond
)

// errNoL2Account: lookup found no account holding the key.
var errNoL2Account = errors.New("no l2 account")

type sequencerClient struct {
	rpc *rpc.Client
	url string
}

func (a *app) sequencerClient(ctx context.Context) (*sequencerClient, error) {
	c, err := rpc.DialContext(ctx, a.cfg.sequencer)
	if err != nil {
		return nil, fmt.Errorf("sequencer %s: %w", a.cfg.sequencer, err)
	}
	return &sequencerClient{rpc: c, url: a.cfg.sequencer}, nil
}

func (s *sequencerClient) call(ctx context.Context, out any, method string, args ...any) error {
	if err := s.rpc.CallContext(ctx, out, method, args...); err != nil {
		return fmt.Errorf("sequencer %s: %s: %w", s.url, method, err)
	}
	return nil
}

func (s *sequencerClient) account(ctx context.Context, index uint32, withProof bool) (*rollupapi.Account, error) {
	var acct rollupapi.Account
	return &acct, s.call(ctx, &acct, "rollup_getAccount", index, withProof)
}

// existing is account index, or an error naming it if it does not exist.
func (s *sequencerClient) existing(ctx context.Context, index uint32) (*rollupapi.Account, error) {
	acct, err := s.account(ctx, index, false)
	if err != nil {
		return nil, err
	}
	if !acct.Exists {
		return nil, fmt.Errorf("l2 account %d does not exist (accounts are created by deposits)", index)
	}
	return acct, nil
}

// lookup finds the account holding pk. The sequencer has no index by key, but accounts are
// allocated densely from 0 (docs/sequencer.md, deposit placement), so the scan stops at the
// first index that does not exist.
func (s *sequencerClient) lookup(ctx context.Context, pk l2.PublicKey) (*rollupapi.Account, error) {
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	for start := uint32(0); start < lookupMax; start += lookupChunk {
		batch := make([]rpc.BatchElem, lookupChunk)
		accts := make([]rollupapi.Account, lookupChunk)
		for i := range batch {
			batch[i] = rpc.BatchElem{Method: "rollup_getAccount", Args: []any{start + uint32(i), false}, Result: &accts[i]}
		}
		if err := s.rpc.BatchCallContext(ctx, batch); err != nil {
			return nil, fmt.Errorf("sequencer %s: rollup_getAccount: %w", s.url, err)
		}
		for i := range batch {
			if batch[i].Error != nil || !accts[i].Exists {
				// index_out_of_range past a small tree ends the scan like a missing account
				return nil, fmt.Errorf("%w holds public key %s (looked at accounts 0..%d): deposit to it first, or give --index",
					errNoL2Account, short(pkHex(pk)), start+uint32(i))
			}
			if accts[i].PubKeyX == x && accts[i].PubKeyY == y {
				return &accts[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no l2 account among the first %d holds public key %s: give --index", lookupMax, short(pkHex(pk)))
}

func (s *sequencerClient) receipt(ctx context.Context, hash common.Hash) (*rollupapi.Receipt, error) {
	var r *rollupapi.Receipt
	return r, s.call(ctx, &r, "rollup_getReceipt", hash)
}

func (s *sequencerClient) status(ctx context.Context, block *uint64) (*rollupapi.Status, error) {
	var st rollupapi.Status
	if block == nil {
		return &st, s.call(ctx, &st, "rollup_getStatus")
	}
	return &st, s.call(ctx, &st, "rollup_getStatus", hexutil.Uint64(*block))
}

// waitReceipt polls the receipt of hash until it is no longer pending.
func (s *sequencerClient) waitReceipt(ctx context.Context, hash common.Hash) (*rollupapi.Receipt, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		r, err := s.receipt(ctx, hash)
		if err != nil {
			return nil, err
		}
		if r != nil && r.Status != "pending" {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("l2 transaction %s still pending: %w", hash, ctx.Err())
		case <-t.C:
		}
	}
}

func pkHex(pk l2.PublicKey) string {
	return keystore.Public{Kind: keystore.KindL2, L2: pk}.String()
}

func accountKey(acct *rollupapi.Account) (l2.PublicKey, error) {
	var pk l2.PublicKey
	if pk.X.SetBytesCanonical(acct.PubKeyX[:]) != nil || pk.Y.SetBytesCanonical(acct.PubKeyY[:]) != nil {
		return pk, fmt.Errorf("l2 account %d: the sequencer returned a non-canonical public key", acct.Index)
	}
	return pk, nil
}

func parseAmount(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("amount %q: want a positive whole number below 2^64", s)
	}
	return v, nil
}

func (a *app) withTimeout(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), a.cfg.timeout)
}

// l2SendFlags are the options of the commands that sign an L2 transaction.
type l2SendFlags struct {
	from  uint32
	key   string
	nonce int64
	wait  bool
}

func (f *l2SendFlags) add(cmd *cobra.Command) {
	cmd.Flags().Uint32Var(&f.from, "from", 0, "the sending l2 account's index")
	cmd.Flags().StringVar(&f.key, "key", "", "the L2 key to sign with (default: the wallet's L2 key that holds --from)")
	cmd.Flags().Int64Var(&f.nonce, "nonce", -1, "transaction nonce (default: the account's next nonce; a higher one queues behind pending transactions)")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the transaction is in a block (or dropped), up to --timeout")
	cmd.MarkFlagRequired("from")
}

// l2Result is what transfer and withdraw print.
type l2Result struct {
	Type    string             `json:"type"`
	TxHash  common.Hash        `json:"txHash"`
	From    uint32             `json:"from"`
	To      *uint32            `json:"to,omitempty"`
	Address string             `json:"address,omitempty"`
	Amount  uint64             `json:"amount"`
	Nonce   uint64             `json:"nonce"`
	Receipt *rollupapi.Receipt `json:"receipt,omitempty"`
}

// sendL2 checks tx against the sender's account, signs it with the wallet key that holds the
// account, sends it, and with --wait waits for its receipt. tx.Nonce is filled in.
func (a *app) sendL2(cmd *cobra.Command, f *l2SendFlags, tx *l2.Tx) (*l2Result, error) {
	ctx, cancel := a.withTimeout(cmd)
	defer cancel()
	seq, err := a.sequencerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer seq.rpc.Close()
	sender, err := seq.existing(ctx, tx.From)
	if err != nil {
		return nil, err
	}
	pk, err := accountKey(sender)
	if err != nil {
		return nil, err
	}
	k, err := a.l2KeyFor(f.key, tx.From, pk)
	if err != nil {
		return nil, err
	}
	if k.Info.Public.Kind == keystore.KindL2MLDSA {
		tx.Type = mldsaType(tx.Type)
	}
	if tx.Type.IsTransfer() {
		if _, err := seq.existing(ctx, tx.To); err != nil {
			return nil, fmt.Errorf("recipient: %w", err)
		}
	}
	if uint64(sender.Balance) < tx.Amount {
		return nil, fmt.Errorf("l2 account %d has balance %d, the %s needs %d", tx.From, sender.Balance, tx.Type, tx.Amount)
	}
	tx.Nonce = uint64(sender.Nonce)
	if f.nonce >= 0 {
		if uint64(f.nonce) < tx.Nonce {
			return nil, fmt.Errorf("l2 account %d has nonce %d, transaction says %d", tx.From, tx.Nonce, f.nonce)
		}
		tx.Nonce = uint64(f.nonce)
	}
	if tx.Nonce == math.MaxUint64 {
		return nil, fmt.Errorf("l2 account %d has used every nonce", tx.From)
	}
	raw, err := a.signL2(k, tx)
	if err != nil {
		return nil, err
	}
	var hash common.Hash
	if err := seq.call(ctx, &hash, "rollup_sendTransaction", hexutil.Bytes(raw)); err != nil {
		return nil, fmt.Errorf("the sequencer rejected the %s: %w", tx.Type, rejection(err))
	}
	res := &l2Result{Type: tx.Type.String(), TxHash: hash, From: tx.From, Amount: tx.Amount, Nonce: tx.Nonce}
	if f.wait {
		if res.Receipt, err = seq.waitReceipt(ctx, hash); err != nil {
			return res, err
		}
		if res.Receipt.Status != "ok" {
			return res, fmt.Errorf("l2 %s %s was dropped: %s", tx.Type, hash, res.Receipt.Status)
		}
	}
	return res, nil
}

// rejection shows the sequencer's reason and detail (docs/sequencer.md, Errors) rather than
// go-ethereum's generic wrapping.
func rejection(err error) error {
	var de rpc.DataError
	if errors.As(err, &de) {
		if m, ok := de.ErrorData().(map[string]any); ok {
			return fmt.Errorf("%v: %v", m["reason"], m["detail"])
		}
	}
	return err
}

// l2KeyFor is the wallet key to sign for account index, whose key is pk: the named one, which
// must match, or the wallet's L2 key that does.
func (a *app) l2KeyFor(name string, index uint32, pk l2.PublicKey) (namedKey, error) {
	want := keystore.Public{Kind: keystore.KindL2, L2: pk}.String()
	if name != "" {
		k, err := a.l2Key(name)
		if err != nil {
			return k, err
		}
		if got := k.Info.Public.String(); got != want {
			return k, fmt.Errorf("l2 account %d belongs to public key %s, key %s is %s", index, short(want), name, short(got))
		}
		return k, nil
	}
	ks, err := a.l2Keys()
	if err != nil {
		return namedKey{}, err
	}
	for _, k := range ks {
		if k.Info.Public.String() == want {
			return k, nil
		}
	}
	return namedKey{}, fmt.Errorf("no L2 key in %s holds l2 account %d (public key %s)", a.keysDir(), index, short(want))
}

func (a *app) transferCommand() *cobra.Command {
	var (
		f  l2SendFlags
		to uint32
	)
	cmd := &cobra.Command{
		Use:   "transfer --from INDEX --to INDEX AMOUNT",
		Short: "Send an L2 transfer to the sequencer",
		Long: `Send an L2 transfer between two existing accounts. The wallet reads the sender's nonce and
balance from the sequencer, signs with the wallet's L2 key that holds --from, sends it with
rollup_sendTransaction and, with --wait, waits for the receipt.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[0])
			if err != nil {
				return err
			}
			res, err := a.sendL2(cmd, &f, &l2.Tx{Type: l2.TxTransfer, From: f.from, To: to, Amount: amount})
			if res != nil {
				res.To = &to
				a.printL2(res)
			}
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().Uint32Var(&to, "to", 0, "the receiving l2 account's index")
	cmd.MarkFlagRequired("to")
	return cmd
}

func (a *app) withdrawCommand() *cobra.Command {
	var (
		f  l2SendFlags
		to string
	)
	cmd := &cobra.Command{
		Use:   "withdraw AMOUNT --to L1ADDR --from INDEX",
		Short: "Withdraw from an L2 account to an L1 address (claim it on L1 once its batch is final)",
		Long: `Send an L2 withdraw: AMOUNT leaves l2 account --from and becomes a leaf of the withdrawal list
of the batch that settles it on L1. Once that batch is final, "pqwallet claim --tx HASH" (or
"pqwallet claim --batch N --index K") pays it to --to on L1; "pqwallet status tx HASH" shows the
batch and the claim command.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[0])
			if err != nil {
				return err
			}
			addr, err := a.l1Address(to)
			if err != nil {
				return err
			}
			res, err := a.sendL2(cmd, &f, &l2.Tx{Type: l2.TxWithdraw, From: f.from, Amount: amount, Address: addr})
			if res != nil {
				res.Address = addr.Hex()
				a.printL2(res)
			}
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&to, "to", "", "the L1 address paid, or the name of a wallet L1 key")
	cmd.MarkFlagRequired("to")
	return cmd
}

func (a *app) printL2(res *l2Result) {
	a.print(res, func(p *printer) {
		switch {
		case res.To != nil:
			p.line("transfer %d from l2 account %d to %d (nonce %d)", res.Amount, res.From, *res.To, res.Nonce)
		default:
			p.line("withdraw %d from l2 account %d to L1 %s (nonce %d)", res.Amount, res.From, res.Address, res.Nonce)
		}
		p.line("tx %s", res.TxHash.Hex())
		if r := res.Receipt; r != nil {
			if r.Included {
				p.line("status %s: in l2 block %d at position %d", r.Status, uint64(*r.Block), uint64(*r.Position))
			} else {
				p.line("status %s", r.Status)
			}
		} else {
			p.line("accepted by the sequencer; pqwallet status tx %s shows its receipt", res.TxHash.Hex())
		}
		if res.To == nil {
			p.line("once its batch is on L1, pqwallet status tx shows the batch and the claim command; pqwallet claim --tx %s --wait waits and claims it",
				res.TxHash.Hex())
		}
	})
}

// l1Address reads an address, or the address of a wallet L1 key by name.
func (a *app) l1Address(s string) (common.Address, error) {
	if common.IsHexAddress(s) {
		return common.HexToAddress(s), nil
	}
	k, err := a.keyOfKind(s, keystore.KindL1)
	if err != nil {
		return common.Address{}, fmt.Errorf("%q is neither an L1 address nor a wallet L1 key: %w", s, err)
	}
	return k.Info.Public.Address, nil
}
