package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/valset"
	"github.com/pqbridge/pqbridge/l2"
)

// fundsReads are the wallet's reads of funds on L1: balances and where a withdrawal stands.
type fundsReads interface {
	Account(ctx context.Context, a common.Address) (l1api.Account, error)
	Withdrawal(ctx context.Context, rollupID, number, index uint64) (*l1api.WithdrawalStatus, error)
}

// funds is where balance, the claim check and refunds read funds: with --l1-validators the
// proven reads (l1client.Verified: the certificate of the newest certified height against the
// set, and the state proofs; a node cannot lie about them, but they trail the head by two
// blocks or more), else the pinned node's signed replies. Reads right after the wallet's own
// transaction (the next nonce, a claim's delay) stay on the head. atLeast is the lowest height
// a proven read may answer for (0: any): what the caller saw at the head must be in it.
func (a *app) funds(c *l1client.Client, atLeast uint64) fundsReads {
	if strings.TrimSpace(a.cfg.l1Validators) != "" {
		return c.Verified().AtLeast(atLeast)
	}
	return c
}

// validatorSet reads --l1-validators, the validator-set JSON; nil when it is not set. It
// excludes --validator.
func (a *app) validatorSet() (*qc.ValidatorSet, error) {
	path := strings.TrimSpace(a.cfg.l1Validators)
	if path == "" {
		return nil, nil
	}
	if strings.TrimSpace(a.cfg.validator) != "" {
		return nil, errors.New("--validator and --l1-validators exclude each other (from the command line, the environment or config.json): pin one validator's key or the validator set")
	}
	set, err := valset.ReadSet(path)
	if err != nil {
		return nil, fmt.Errorf("--l1-validators: %w", err)
	}
	return set, nil
}

// validatorKey reads --validator: the key in hex, or a file holding it.
func (a *app) validatorKey() (*pqkey.PublicKey, error) {
	v := strings.TrimSpace(a.cfg.validator)
	if v == "" {
		return nil, fmt.Errorf("no L1 validator key: set --validator (or %s, or \"validator\" in %s/%s) to the validator's ML-DSA-65 public key or a file holding it in hex",
			envName("validator"), a.cfg.home, configFileName)
	}
	if common.IsHexAddress(v) {
		return nil, fmt.Errorf("--validator %s is an address; the L1 node's replies are checked against the validator's public key, so give the key itself (hex) or a file holding it", v)
	}
	text := v
	if _, err := hex.DecodeString(strings.TrimPrefix(v, "0x")); err != nil {
		b, err := os.ReadFile(v)
		if err != nil {
			return nil, fmt.Errorf("--validator: %w", err)
		}
		text = strings.TrimSpace(string(b))
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(text, "0x"))
	if err != nil {
		return nil, fmt.Errorf("--validator %s: not hex: %w", v, err)
	}
	pk, err := pqkey.ParsePublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("--validator %s: %w", v, err)
	}
	return pk, nil
}

// l1Client connects to the L1 node (the first of --l1's comma-separated list that answers),
// giving up with the last dial error when the command's --timeout ends; key signs the requests (a throwaway key when nil: reads need no
// account).
func (a *app) l1Client(ctx context.Context, key *pqkey.PrivateKey) (*l1client.Client, error) {
	cfg := l1client.Config{Addrs: l1client.ParseAddrs(a.cfg.l1Addr), ChainID: a.cfg.l1ChainID, Key: key}
	var err error
	if cfg.Validators, err = a.validatorSet(); err != nil {
		return nil, err
	}
	if cfg.Validators == nil {
		if cfg.Validator, err = a.validatorKey(); err != nil {
			return nil, err
		}
	}
	c, err := l1client.Dial(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("L1 node %s: %w", a.cfg.l1Addr, err)
	}
	return c, nil
}

// l1Result is what the L1 transaction commands print.
type l1Result struct {
	Type    string         `json:"type"`
	TxHash  common.Hash    `json:"txHash"`
	From    common.Address `json:"from"`
	Nonce   uint64         `json:"nonce"`
	Fee     uint64         `json:"fee"`              // the L1 fee it pays (burned)
	Height  uint64         `json:"height,omitempty"` // the L1 block that included it, with --wait
	Details map[string]any `json:"details"`
}

// submitL1 signs payload as a transaction of type t from key, submits it and, with wait, waits
// until an L1 block includes it; a transaction the block rejected is an error with the
// chain's reason.
func (a *app) submitL1(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, t l1api.TxType, payload any, wait bool) (*l1Result, error) {
	from := key.Address()
	acct, err := c.Account(ctx, from)
	if err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := l1api.SignTx(key, t, a.cfg.l1ChainID, acct.Nonce, payload)
	if err != nil {
		return nil, err
	}
	fee, err := l1Cost(raw, a.cfg.l1ChainID, st.Fees, acct.Balance)
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w", t, from.Hex(), err)
	}
	hash, err := c.SubmitTx(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("the L1 node rejected the %s: %w", t, err)
	}
	res := &l1Result{Type: t.String(), TxHash: hash, From: from, Nonce: acct.Nonce, Fee: fee}
	if !wait {
		return res, nil
	}
	res.Height, err = waitL1Receipt(ctx, c, hash, st.Height+1)
	return res, err
}

// l1Cost is the fee of the signed transaction raw under the chain's fees; it fails, before
// anything is sent, if balance cannot pay the fee and the value the transaction moves.
func l1Cost(raw []byte, chainID uint64, fees l1api.Fees, balance uint64) (uint64, error) {
	tx, err := l1api.DecodeTx(raw, chainID)
	if err != nil {
		return 0, err
	}
	fee, err := fees.TxFee(tx)
	if err != nil {
		return 0, err
	}
	if v := tx.Value(); fee > balance || v > balance-fee {
		return 0, fmt.Errorf("the L1 balance %d cannot pay the fee %d plus %d", balance, fee, v)
	}
	return fee, nil
}

// waitL1Receipt scans the receipts of every new block from height on until one holds hash. It
// polls through a restart of the L1 node (the client redials) until ctx ends.
func waitL1Receipt(ctx context.Context, c *l1client.Client, hash common.Hash, height uint64) (uint64, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		found, err := scanL1Receipts(ctx, c, hash, &height)
		if found || (err != nil && !errors.Is(err, l1client.ErrDisconnected)) {
			return height, err
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return 0, fmt.Errorf("L1 transaction %s not in a block up to height %d: %w (last: %w)", hash, height-1, ctx.Err(), err)
			}
			return 0, fmt.Errorf("L1 transaction %s not in a block yet (height %d): %w", hash, height-1, ctx.Err())
		case <-t.C:
		}
	}
}

// scanL1Receipts looks for hash in the receipts of the blocks from *height to the head, moving
// *height past the blocks without it; found: *height is the block that holds it.
func scanL1Receipts(ctx context.Context, c *l1client.Client, hash common.Hash, height *uint64) (bool, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return false, err
	}
	for ; *height <= st.Height; *height++ {
		rs, err := c.Receipts(ctx, *height)
		if err != nil {
			return false, err
		}
		for _, r := range rs {
			if r.TxHash != hash {
				continue
			}
			if !r.OK {
				return true, fmt.Errorf("L1 transaction %s failed in block %d: %s", hash, *height, r.Error)
			}
			return true, nil
		}
	}
	return false, nil
}

// l1Tx is the transaction an L1 command sends, and how its result reads.
type l1Tx struct {
	typ     l1api.TxType
	payload any
	details map[string]any // the details of the JSON result
	summary string         // the first line of the human result
}

// sendL1 signs tx with key, submits it over c and prints the result; with wait it first waits
// until an L1 block includes it. A submitted transaction is printed even when its block failed
// it or the wait ran out, so that the user has its hash; the error follows.
func (a *app) sendL1(ctx context.Context, c *l1client.Client, key *pqkey.PrivateKey, tx l1Tx, wait bool) error {
	res, err := a.submitL1(ctx, c, key, tx.typ, tx.payload, wait)
	if res == nil {
		return err
	}
	res.Details = tx.details
	if perr := a.print(res, func(p *printer) {
		p.line("%s", tx.summary)
		p.line("L1 tx %s from %s (nonce %d, fee %d)", res.TxHash.Hex(), res.From.Hex(), res.Nonce, res.Fee)
		if res.Height != 0 {
			p.line("included in L1 block %d", res.Height)
		} else {
			p.line("accepted into the L1 mempool (--wait waits for its block)")
		}
	}); perr != nil {
		return perr
	}
	return err
}

// sendL1As is sendL1 for a command that read L1 without a key: it unlocks k only now, after
// the checks, and dials the node again to send tx signed with it.
func (a *app) sendL1As(ctx context.Context, k namedKey, tx l1Tx, wait bool) error {
	key, err := a.unlockL1(k)
	if err != nil {
		return err
	}
	c, err := a.l1Client(ctx, key)
	if err != nil {
		return err
	}
	defer c.Close()
	return a.sendL1(ctx, c, key, tx, wait)
}

// withRollup runs f within --timeout, with the L1 node dialled (requests signed by key; nil for
// a command that only reads) and the configured rollup read from it.
func (a *app) withRollup(cmd *cobra.Command, key *pqkey.PrivateKey, f func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error) error {
	ctx, cancel := a.withTimeout(cmd)
	defer cancel()
	c, err := a.l1Client(ctx, key)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := a.rollup(ctx, c)
	if err != nil {
		return err
	}
	return f(ctx, c, r)
}

// rollup reads the configured rollup (--rollup).
func (a *app) rollup(ctx context.Context, c *l1client.Client) (*l1api.Rollup, error) {
	r, err := c.Rollup(ctx, a.cfg.rollupID)
	if errors.Is(err, l1api.ErrNotFound) {
		return nil, fmt.Errorf("no rollup %d on L1 %s (--rollup)", a.cfg.rollupID, a.cfg.l1Addr)
	}
	return r, err
}

func (a *app) depositCommand() *cobra.Command {
	var (
		toL2  string
		l1Key string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   "deposit AMOUNT --to-l2 KEYNAME",
		Short: "Deposit from your L1 account into the rollup, credited to an L2 public key",
		Long: `Send an L1 deposit: AMOUNT leaves the L1 account of --l1-key into the rollup's escrow and joins
its deposit queue with the L2 public key of --to-l2. The sequencer credits the key's account (or
a new one) from that queue; "pqwallet balance --l2 KEYNAME" shows it. For an ML-DSA-65 L2 key
(key new --l2 --pq) the deposit carries the ML-DSA public key, which L1 registers under its hash:
the account it creates is an ML-DSA account (docs/wallet.md, ML-DSA accounts).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[0])
			if err != nil {
				return err
			}
			to, err := a.l2Recipient(toL2)
			if err != nil {
				return err
			}
			key, err := a.unlockDefaultL1(l1Key)
			if err != nil {
				return err
			}
			return a.withRollup(cmd, key, func(ctx context.Context, c *l1client.Client, r *l1api.Rollup) error {
				if err := depositAllowed(ctx, c, r, key, amount); err != nil {
					return err
				}
				return a.sendL1(ctx, c, key, depositTx(r, amount, to), wait)
			})
		},
	}
	cmd.Flags().StringVar(&toL2, "to-l2", "", "the L2 key credited: a wallet L2 key's name, an EdDSA public key in hex (x‖y, 64 bytes) or an ML-DSA-65 public key in hex (1,952 bytes)")
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key paying (default: the wallet's only L1 key)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until an L1 block includes the deposit, up to --timeout")
	cmd.MarkFlagRequired("to-l2")
	return cmd
}

// depositAllowed refuses, before anything is signed, a deposit the rollup would not take or the
// L1 account cannot pay.
func depositAllowed(ctx context.Context, c *l1client.Client, r *l1api.Rollup, key *pqkey.PrivateKey, amount uint64) error {
	if r.Paused {
		return fmt.Errorf("rollup %d takes no deposits: rollup paused by its guardians until they unpause (pqwallet guardian status)", r.ID)
	}
	if r.Frozen {
		return fmt.Errorf("rollup %d takes no deposits: frozen (exodus)", r.ID)
	}
	acct, err := c.Account(ctx, key.Address())
	if err != nil {
		return err
	}
	if acct.Balance < amount {
		return fmt.Errorf("l1 account %s has balance %d, the deposit needs %d", key.Address().Hex(), acct.Balance, amount)
	}
	return nil
}

// depositTx is the L1 deposit of amount into rollup r for the L2 key to.
func depositTx(r *l1api.Rollup, amount uint64, to l2Recipient) l1Tx {
	kind, what := "eddsa", "L2 key "+short(pkHex(to.pk))
	if to.mldsa != nil {
		kh := to.pk.Y.Bytes()
		kind, what = "mldsa", "L2 ML-DSA-65 key kh "+short(hex.EncodeToString(kh[:]))
	}
	return l1Tx{typ: l1api.TxDeposit,
		payload: &l1api.Deposit{RollupID: r.ID, Amount: amount, PKX: to.pk.X.Bytes(), PKY: to.pk.Y.Bytes(), MLDSAKey: to.mldsa},
		details: map[string]any{"rollup": r.ID, "amount": amount, "l2PublicKey": pkHex(to.pk), "keyKind": kind, "queueIndex": r.QueueLen},
		summary: fmt.Sprintf("deposit %d into rollup %d for %s (deposit queue index %d, if no other deposit lands first)",
			amount, r.ID, what, r.QueueLen)}
}

// l2Recipient is the L2 key a deposit credits: its account key and, for an ML-DSA account, the
// ML-DSA-65 public key the deposit registers on L1.
type l2Recipient struct {
	pk    l2.PublicKey
	mldsa []byte
}

// l2Recipient reads a wallet L2 key's name, an EdDSA public key in hex (x‖y), or an ML-DSA-65
// public key in hex.
func (a *app) l2Recipient(s string) (l2Recipient, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	switch {
	case err == nil && len(b) == 2*fr.Bytes:
		var pk l2.PublicKey
		if pk.X.SetBytesCanonical(b[:fr.Bytes]) != nil || pk.Y.SetBytesCanonical(b[fr.Bytes:]) != nil {
			return l2Recipient{}, fmt.Errorf("L2 public key %s: not two canonical field elements", short(s))
		}
		if l2.IsMLDSAKey(pk) {
			return l2Recipient{}, fmt.Errorf("L2 public key %s has x = 0, the key of an ML-DSA account: a deposit to one carries the ML-DSA-65 public key itself; give the wallet key's name or the %d-byte public key in hex", short(s), l2.MLDSAPubSize)
		}
		return l2Recipient{pk: pk}, nil
	case err == nil && len(b) == l2.MLDSAPubSize:
		if _, err := pqkey.ParsePublicKey(b); err != nil {
			return l2Recipient{}, fmt.Errorf("ML-DSA-65 public key %s: %w", short(s), err)
		}
		return l2Recipient{pk: l2.MLDSAPublicKey(b), mldsa: b}, nil
	}
	k, err := a.l2Key(s)
	if err != nil {
		return l2Recipient{}, err
	}
	if k.Info.Public.Kind == keystore.KindL2MLDSA {
		return l2Recipient{pk: k.Info.Public.L2, mldsa: k.Info.Public.MLDSA[:]}, nil
	}
	return l2Recipient{pk: k.Info.Public.L2}, nil
}
