package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
)

func (a *app) keySplitCommand() *cobra.Command {
	var (
		threshold, total int
		dir              string
		encrypt          bool
	)
	cmd := &cobra.Command{
		Use:   "split NAME -k K -n N",
		Short: "Split a key into N shares, any K of which recombine it (docs/keys.md §4)",
		Long: `Split a key into N share files, any K of which recombine it with "pqwallet key combine".
Each share carries an integrity tag; fewer than K shares tell nothing about the key. The shares
are written in clear unless --encrypt seals each under its custodian's passphrase. Split on an
offline machine: it sees the whole key once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := a.key(args[0])
			if err != nil {
				return err
			}
			key, err := a.unlock(k)
			if err != nil {
				return err
			}
			shares, err := keystore.Split(key, threshold, total)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = filepath.Join(a.cfg.home, "shares", k.Name)
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			var files []string
			for i := range shares {
				data, err := a.shareFile(&shares[i], i+1, encrypt)
				if err != nil {
					return err
				}
				path := filepath.Join(dir, fmt.Sprintf("%s-share-%d-of-%d.json", k.Name, i+1, total))
				if err := keystore.WriteFile(path, data); err != nil {
					return err
				}
				files = append(files, path)
			}
			out := struct {
				Key       keyJSON  `json:"key"`
				Threshold int      `json:"threshold"`
				Shares    []string `json:"shares"`
			}{keyOut(k), threshold, files}
			return a.print(out, func(p *printer) {
				p.line("split key %s (%s) into %d shares, any %d recombine it:", k.Name, out.Key.public(), total, threshold)
				for _, f := range files {
					p.line("  %s", f)
				}
				p.line("give each share to its custodian; the keystore %s still holds the whole key", k.Path)
			})
		},
	}
	cmd.Flags().IntVarP(&threshold, "threshold", "k", 0, "shares needed to recombine the key (2..N)")
	cmd.Flags().IntVarP(&total, "shares", "n", 0, "shares to make (K..255)")
	cmd.Flags().StringVar(&dir, "out", "", "directory for the share files (default <home>/shares/NAME)")
	cmd.Flags().BoolVar(&encrypt, "encrypt", false, "seal each share under a passphrase (asked per share; --passphrase-file or PQBRIDGE_PASSPHRASE give all the same one)")
	cmd.MarkFlagRequired("threshold")
	cmd.MarkFlagRequired("shares")
	return cmd
}

func (a *app) shareFile(s *keystore.Share, i int, encrypt bool) ([]byte, error) {
	if !encrypt {
		return s.Marshal()
	}
	pass, err := keystore.Passphrase(a.passphraseSource(fmt.Sprintf("Passphrase for share %d: ", i), true))
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	return s.Encrypt(pass, keystore.DefaultParams())
}

func (a *app) keyCombineCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "combine NAME SHARE_FILE...",
		Short: "Recombine a key from K share files into a new keystore <home>/keys/NAME.json",
		Long: `Recombine a key from at least K share files of one split and store it as a new keystore.
Too few, tampered, duplicated or mismatched shares are refused and named (docs/keys.md §4).
Compare the recovered address or public key with the one you expect.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			shares, err := keystore.LoadShares(args[1:], func(path string) ([]byte, error) {
				return keystore.Passphrase(a.passphraseSource(fmt.Sprintf("Passphrase for share %s: ", path), false))
			})
			if err != nil {
				return err
			}
			key, err := keystore.Combine(shares)
			if err != nil {
				return err
			}
			k, err := a.save(args[0], key)
			if err != nil {
				return err
			}
			out := keyOut(k)
			return a.print(out, func(p *printer) {
				p.line("recombined %s key %s from %d shares: %s", kindWord(k), k.Name, len(shares), out.public())
				p.line("file %s", k.Path)
			})
		},
	}
}
