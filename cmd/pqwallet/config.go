package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
)

// Defaults match the daemons' own defaults (cmd/pql1node -listen and -chain-id, cmd/pqsequencer
// -listen and -chain-id), so a wallet on the same machine needs no configuration but the
// validator key.
const (
	defaultL1        = "127.0.0.1:9645"
	defaultSequencer = "http://127.0.0.1:8645"
	envPrefix        = "PQBRIDGE_"
	configFileName   = "config.json"
)

// config is the wallet's global configuration: each field is a persistent flag, also read from
// the environment (PQBRIDGE_<FLAG>) and from <home>/config.json, in that order of precedence.
type config struct {
	home           string
	l1Addr         string
	l1ChainID      uint64
	validator      string
	l1Validators   string
	sequencer      string
	rollupID       uint64
	l2ChainID      uint64
	passphraseFile string
	json           bool
	timeout        time.Duration
}

// app is one run of the wallet: its configuration, where it prints and how it reads the
// environment (os.LookupEnv, or a map in tests).
type app struct {
	cfg       config
	out       io.Writer
	errOut    io.Writer
	lookupEnv func(string) (string, bool)
}

func newRootCommand(out, errOut io.Writer, lookupEnv func(string) (string, bool)) *cobra.Command {
	_, root := newApp(out, errOut, lookupEnv)
	return root
}

func newApp(out, errOut io.Writer, lookupEnv func(string) (string, bool)) (*app, *cobra.Command) {
	a := &app{out: out, errOut: errOut, lookupEnv: lookupEnv}
	root := &cobra.Command{
		Use:   "pqwallet",
		Short: "Keys, balances, deposits, transfers, withdrawals and exits on pqbridge",
		Long: `pqwallet keeps L1 (ML-DSA-65) and L2 (EdDSA or ML-DSA-65) keys in encrypted keystores under --home and
talks to the L1 node (QUIC, replies checked against the pinned --validator key) and to the
sequencer (JSON-RPC) on your behalf.

Every global option is read, in this order, from the command line, from the environment variable
shown next to it, and from <home>/config.json, an object whose keys are the option names, e.g.
  {"l1": "10.0.0.5:9645", "validator": "/etc/pqbridge/validator.pub", "sequencer": "http://10.0.0.6:8645"}
--home itself is read from the command line or PQBRIDGE_HOME only.

Keystore passphrases come from --passphrase-file, else PQBRIDGE_PASSPHRASE, else a prompt on the
terminal (docs/keys.md §3). docs/wallet.md is the full reference.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.resolveConfig(cmd.Root().PersistentFlags())
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	home := ".pqbridge"
	if h, err := os.UserHomeDir(); err == nil {
		home = filepath.Join(h, ".pqbridge")
	}
	f := root.PersistentFlags()
	f.StringVar(&a.cfg.home, "home", home, "wallet directory: keystores in keys/, shares in shares/, options in config.json")
	f.StringVar(&a.cfg.l1Addr, "l1", defaultL1, "L1 node's QUIC (UDP) address, host:port, or a comma-separated list tried in turn")
	f.Uint64Var(&a.cfg.l1ChainID, "l1-chain-id", 1, "L1 chain ID: signed into every L1 transaction and request")
	f.StringVar(&a.cfg.validator, "validator", "", "L1 validator's ML-DSA-65 public key, in hex or in a file holding the hex; every reply of the L1 node must be signed with it (an address is not enough: replies are checked against the key)")
	f.StringVar(&a.cfg.l1Validators, "l1-validators", "", "instead of --validator, a file with the L1 validator-set JSON (pql1node -validators): replies signed by any member are accepted, certificates are checked against the set, and --l1 lists the validators' endpoints")
	f.StringVar(&a.cfg.sequencer, "sequencer", defaultSequencer, "sequencer's JSON-RPC URL (http:// or ws://)")
	f.Uint64Var(&a.cfg.rollupID, "rollup", 1, "rollup ID on L1 (rollups are numbered from 1 in registration order)")
	f.Uint64Var(&a.cfg.l2ChainID, "l2-chain-id", 1, "L2 chain ID: signed into every L2 transaction (the sequencer's -chain-id)")
	f.StringVar(&a.cfg.passphraseFile, "passphrase-file", "", "file holding the keystore passphrase (one trailing newline is ignored); otherwise PQBRIDGE_PASSPHRASE, otherwise a prompt")
	f.BoolVar(&a.cfg.json, "json", false, "print results as JSON, for scripts")
	f.DurationVar(&a.cfg.timeout, "timeout", 30*time.Second, "give up a network call, or a --wait, after this long")
	f.VisitAll(func(fl *pflag.Flag) {
		fl.Usage += fmt.Sprintf(" [env %s", envName(fl.Name))
		if fl.Name != "home" {
			fl.Usage += fmt.Sprintf(`, config "%s"`, fl.Name)
		}
		fl.Usage += "]"
	})
	root.AddCommand(a.keyCommand(), a.balanceCommand(), a.depositCommand(), a.transferCommand(),
		a.withdrawCommand(), a.migrateCommand(), a.claimCommand(), a.releaseCommand(), a.reservesCommand(), a.refundsCommand(), a.exodusCommand(), a.statusCommand(),
		a.guardianCommand(), a.validatorCommand())
	return a, root
}

func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// resolveConfig fills every global option not given on the command line from the environment,
// then from <home>/config.json. Values go through the flag's own parser, so "abc" for a chain
// ID is refused the same way from all three sources.
func (a *app) resolveConfig(flags *pflag.FlagSet) error {
	if !flags.Changed("home") {
		if v, ok := a.lookupEnv(envName("home")); ok && v != "" {
			a.cfg.home = v
		}
	}
	file, err := readConfigFile(filepath.Join(a.cfg.home, configFileName), flags)
	if err != nil {
		return err
	}
	var errs []error
	flags.VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "home" || fl.Changed {
			return
		}
		if v, ok := a.lookupEnv(envName(fl.Name)); ok {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(fl.Name), v, err))
			}
			return
		}
		if v, ok := file[fl.Name]; ok {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q: %q: %w", filepath.Join(a.cfg.home, configFileName), fl.Name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readConfigFile reads config.json as option name → value text. A missing file is no options;
// an unknown option is an error naming the known ones, so a typo is not silently ignored.
func readConfigFile(path string, flags *pflag.FlagSet) (map[string]string, error) {
	raw, err := cliconf.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var known []string
	flags.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "home" {
			known = append(known, fl.Name)
		}
	})
	for k := range raw {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("config file %s: unknown option %q (known: %s)", path, k, strings.Join(known, ", "))
		}
	}
	return raw, nil
}
