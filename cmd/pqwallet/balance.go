package main

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

// balanceJSON is one account balance.
type balanceJSON struct {
	Layer     string  `json:"layer"` // "l1" or "l2"
	Key       string  `json:"key,omitempty"`
	Address   string  `json:"address,omitempty"`   // L1
	PublicKey string  `json:"publicKey,omitempty"` // L2
	Index     *uint32 `json:"index,omitempty"`     // L2
	KeyKind   string  `json:"keyKind,omitempty"`   // L2: "eddsa", or "mldsa" (ML-DSA-65, pk.x = 0)
	Exists    bool    `json:"exists"`
	Balance   uint64  `json:"balance"`
	Nonce     uint64  `json:"nonce"`
	Block     uint64  `json:"block,omitempty"` // L2: the sequencer block the balance is of
}

func (a *app) balanceCommand() *cobra.Command {
	var (
		onlyL1, onlyL2 bool
		address        string
		index          int64
	)
	cmd := &cobra.Command{
		Use:   "balance [KEYNAME]",
		Short: "Show L1 and L2 balances of the wallet's keys, of one key, of an L1 address or of an L2 index",
		Long: `Show balances: of every wallet key (L1 keys on L1, L2 keys on L2), of KEYNAME, of --address on
L1 or of --index on L2. L1 balances come from the L1 node; L2 balances from the sequencer (its
latest block: soft-confirmed). An L2 key's account index is looked up by its public key.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var l1Addrs []balanceJSON
			var l2Keys []balanceJSON
			switch {
			case address != "":
				if !common.IsHexAddress(address) {
					return fmt.Errorf("--address %q is not an L1 address", address)
				}
				l1Addrs = append(l1Addrs, balanceJSON{Layer: "l1", Address: common.HexToAddress(address).Hex()})
			case index >= 0:
				i := uint32(index)
				l2Keys = append(l2Keys, balanceJSON{Layer: "l2", Index: &i})
			default:
				var ks []namedKey
				if len(args) == 1 {
					k, err := a.key(args[0])
					if err != nil {
						return err
					}
					ks = []namedKey{k}
				} else {
					var err error
					if ks, err = a.keys(); err != nil {
						return err
					}
				}
				for _, k := range ks {
					isL1 := k.Info.Public.Kind == keystore.KindL1
					if len(args) == 1 && (isL1 && onlyL2 || !isL1 && onlyL1) {
						return fmt.Errorf("key %q is an %s key", k.Name, k.Info.Public.Kind)
					}
					switch {
					case isL1 && !onlyL2:
						l1Addrs = append(l1Addrs, balanceJSON{Layer: "l1", Key: k.Name, Address: k.Info.Public.Address.Hex()})
					case !isL1 && !onlyL1:
						l2Keys = append(l2Keys, balanceJSON{Layer: "l2", Key: k.Name, PublicKey: k.Info.Public.String()})
					}
				}
			}
			if len(l1Addrs)+len(l2Keys) == 0 {
				return fmt.Errorf("no keys in %s to show (pqwallet key new --l1|--l2 NAME)", a.keysDir())
			}
			ctx, cancel := a.withTimeout(cmd)
			defer cancel()
			if len(l1Addrs) > 0 {
				c, err := a.l1Client(ctx, nil)
				if err != nil {
					return err
				}
				defer c.Close()
				for i := range l1Addrs {
					acct, err := a.funds(c, 0).Account(ctx, common.HexToAddress(l1Addrs[i].Address))
					if err != nil {
						return err
					}
					l1Addrs[i].Balance, l1Addrs[i].Nonce, l1Addrs[i].Exists = acct.Balance, acct.Nonce, acct != (l1api.Account{})
				}
			}
			if len(l2Keys) > 0 {
				seq, err := a.sequencerClient(ctx)
				if err != nil {
					return err
				}
				defer seq.rpc.Close()
				for i := range l2Keys {
					b := &l2Keys[i]
					var acct *rollupapi.Account
					if b.Index != nil {
						acct, err = seq.account(ctx, *b.Index, false)
					} else {
						k, kerr := a.key(b.Key)
						if kerr != nil {
							return kerr
						}
						acct, err = seq.lookup(ctx, k.Info.Public.L2)
						if err != nil && len(args) == 0 {
							err, acct = nil, nil // listing every key: one without an account shows as such
						}
					}
					if err != nil {
						return err
					}
					if acct == nil {
						continue
					}
					idx := acct.Index
					b.Index, b.Exists, b.Balance, b.Nonce, b.Block = &idx, acct.Exists, uint64(acct.Balance), uint64(acct.Nonce), uint64(acct.Block)
					if acct.Exists {
						pk, err := accountKey(acct)
						if err != nil {
							return err
						}
						b.PublicKey, b.KeyKind = pkHex(pk), keyKind(pk)
					}
				}
			}
			out := append(l1Addrs, l2Keys...)
			return a.print(out, func(p *printer) {
				for _, b := range out {
					name := b.Key
					if name == "" {
						name = "-"
					}
					switch {
					case b.Layer == "l1":
						p.line("L1 %-16s %s  balance %d  nonce %d", name, b.Address, b.Balance, b.Nonce)
					case b.Index == nil:
						p.line("L2 %-16s %s  no l2 account yet (deposit to it first)", name, short(b.PublicKey))
					case !b.Exists:
						p.line("L2 %-16s index %d  no such account", name, *b.Index)
					default:
						p.line("L2 %-16s index %d  balance %d  nonce %d  %s  (l2 block %d, soft)", name, *b.Index, b.Balance, b.Nonce, b.KeyKind, b.Block)
					}
				}
			})
		},
	}
	cmd.Flags().BoolVar(&onlyL1, "l1", false, "L1 balances only")
	cmd.Flags().BoolVar(&onlyL2, "l2", false, "L2 balances only")
	cmd.Flags().StringVar(&address, "address", "", "show this L1 address instead of wallet keys")
	cmd.Flags().Int64Var(&index, "index", -1, "show this l2 account index instead of wallet keys")
	cmd.MarkFlagsMutuallyExclusive("l1", "l2")
	cmd.MarkFlagsMutuallyExclusive("address", "index")
	return cmd
}

// keyKind names the kind of an L2 account's key as balance shows it.
func keyKind(pk l2.PublicKey) string {
	if l2.IsMLDSAKey(pk) {
		return "mldsa"
	}
	return "eddsa"
}
