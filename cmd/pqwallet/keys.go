package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// keyNamePattern keeps a key name a plain file name under <home>/keys.
var keyNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// keystoreFormat is keystore.Info.Format of a keystore (a share file has another).
const keystoreFormat = "pqbridge-keystore"

// namedKey is a keystore file of the wallet, read without its passphrase.
type namedKey struct {
	Name string
	Path string
	Info keystore.Info
}

func (a *app) keysDir() string { return filepath.Join(a.cfg.home, "keys") }

func (a *app) keyPath(name string) (string, error) {
	if !keyNamePattern.MatchString(name) {
		return "", fmt.Errorf("key name %q: use letters, digits, '.', '_' and '-' (at most 64, not starting with a symbol)", name)
	}
	return filepath.Join(a.keysDir(), name+".json"), nil
}

// key reads the public part of key name, without its passphrase.
func (a *app) key(name string) (namedKey, error) {
	path, err := a.keyPath(name)
	if err != nil {
		return namedKey{}, err
	}
	data, err := keystore.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return namedKey{}, fmt.Errorf("no key named %q in %s (pqwallet key list shows the keys)", name, a.keysDir())
	}
	if err != nil {
		return namedKey{}, err
	}
	info, err := keystore.Inspect(data)
	if err != nil {
		return namedKey{}, fmt.Errorf("key %q: %w", name, err)
	}
	if info.Format != keystoreFormat {
		return namedKey{}, fmt.Errorf("key %q (%s) is a %s file, not a keystore", name, path, info.Format)
	}
	return namedKey{Name: name, Path: path, Info: info}, nil
}

// keys lists the wallet's keystores by name; files that are not keystores are skipped.
func (a *app) keys() ([]namedKey, error) {
	entries, err := os.ReadDir(a.keysDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []namedKey
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || !keyNamePattern.MatchString(name) {
			continue
		}
		k, err := a.key(name)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// keysOfKind are the wallet's keys of one kind.
func (a *app) keysOfKind(kind keystore.Kind) ([]namedKey, error) {
	all, err := a.keys()
	var out []namedKey
	for _, k := range all {
		if k.Info.Public.Kind == kind {
			out = append(out, k)
		}
	}
	return out, err
}

// keyOfKind reads the public part of key name and checks its kind.
func (a *app) keyOfKind(name string, kind keystore.Kind) (namedKey, error) {
	k, err := a.key(name)
	if err != nil {
		return k, err
	}
	if k.Info.Public.Kind != kind {
		return k, fmt.Errorf("key %q is an %s key, this needs an %s key", name, k.Info.Public.Kind, kind)
	}
	return k, nil
}

// defaultL1Key is the L1 key of an L1 command that names none: the wallet's only L1 key.
func (a *app) defaultL1Key(name string) (namedKey, error) {
	if name != "" {
		return a.keyOfKind(name, keystore.KindL1)
	}
	ks, err := a.keysOfKind(keystore.KindL1)
	if err != nil {
		return namedKey{}, err
	}
	if len(ks) != 1 {
		return namedKey{}, fmt.Errorf("%d L1 keys in %s: name the one to use with --l1-key", len(ks), a.keysDir())
	}
	return ks[0], nil
}

func (a *app) passphraseSource(prompt string, confirm bool) keystore.PassphraseSource {
	return keystore.PassphraseSource{File: a.cfg.passphraseFile, LookupEnv: a.lookupEnv,
		Terminal: keystore.StdinTerminal(), Prompt: prompt, Confirm: confirm}
}

// unlock decrypts a key of the wallet.
func (a *app) unlock(k namedKey) (keystore.Key, error) {
	pass, err := keystore.Passphrase(a.passphraseSource(fmt.Sprintf("Passphrase for key %s (%s): ", k.Name, short(k.Info.Public.String())), false))
	if err != nil {
		return keystore.Key{}, err
	}
	defer clear(pass)
	key, err := keystore.Load(k.Path, pass)
	if err != nil {
		return keystore.Key{}, fmt.Errorf("key %q: %w", k.Name, err)
	}
	return key, nil
}

// unlockDefaultL1 unlocks the L1 key name, or the wallet's only L1 key when name is empty.
func (a *app) unlockDefaultL1(name string) (*pqkey.PrivateKey, error) {
	k, err := a.defaultL1Key(name)
	if err != nil {
		return nil, err
	}
	return a.unlockL1(k)
}

func (a *app) unlockL1(k namedKey) (*pqkey.PrivateKey, error) {
	key, err := a.unlock(k)
	if err != nil {
		return nil, err
	}
	return key.L1()
}

func (a *app) unlockL2(k namedKey) (*l2.PrivateKey, error) {
	key, err := a.unlock(k)
	if err != nil {
		return nil, err
	}
	return key.L2()
}

// save writes a new keystore for key under name, asking for its passphrase twice.
func (a *app) save(name string, key keystore.Key) (namedKey, error) {
	path, err := a.keyPath(name)
	if err != nil {
		return namedKey{}, err
	}
	if _, err := os.Stat(path); err == nil {
		return namedKey{}, fmt.Errorf("a key named %q already exists (%s)", name, path)
	}
	if err := os.MkdirAll(a.keysDir(), 0o700); err != nil {
		return namedKey{}, err
	}
	pass, err := keystore.Passphrase(a.passphraseSource(fmt.Sprintf("New passphrase for key %s: ", name), true))
	if err != nil {
		return namedKey{}, err
	}
	defer clear(pass)
	if err := keystore.Save(path, key, pass, keystore.DefaultParams()); err != nil {
		return namedKey{}, err
	}
	return a.key(name)
}

// keyJSON is how the key commands print a key.
type keyJSON struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Address   string `json:"address,omitempty"`
	PublicKey string `json:"publicKey,omitempty"` // L2: the account key pk.x ‖ pk.y
	KeyHash   string `json:"keyHash,omitempty"`   // L2 ML-DSA: kh = pk.y, the hash of the ML-DSA public key
	KeyID     string `json:"keyId"`
	File      string `json:"file"`
}

func keyOut(k namedKey) keyJSON {
	out := keyJSON{Name: k.Name, Kind: string(k.Info.Public.Kind), KeyID: k.Info.KeyID.String(), File: k.Path}
	if k.Info.Public.Kind == keystore.KindL1 {
		out.Address = k.Info.Public.Address.Hex()
	} else {
		out.PublicKey = k.Info.Public.String()
	}
	if k.Info.Public.Kind == keystore.KindL2MLDSA {
		kh := k.Info.Public.L2.Y.Bytes()
		out.KeyHash = hex.EncodeToString(kh[:])
	}
	return out
}

// public is the key as the human output shows it: the address, the ML-DSA key hash, or the
// EdDSA public key.
func (k keyJSON) public() string {
	switch {
	case k.Address != "":
		return k.Address
	case k.KeyHash != "":
		return "kh " + k.KeyHash
	}
	return k.PublicKey
}

// kindFlags are the --l1/--l2 [--pq] choice of the key commands.
type kindFlags struct{ l1, l2, pq bool }

func (f *kindFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.l1, "l1", false, "an L1 key: ML-DSA-65, signs L1 transactions (deposits, claims, exits)")
	cmd.Flags().BoolVar(&f.l2, "l2", false, "an L2 key: EdDSA on BN254's twisted Edwards curve (or ML-DSA-65 with --pq), signs L2 transfers and withdrawals")
	cmd.Flags().BoolVar(&f.pq, "pq", false, "with --l2: an ML-DSA-65 L2 account key (post-quantum; its batches settle optimistically only)")
	cmd.MarkFlagsMutuallyExclusive("l1", "l2")
	cmd.MarkFlagsMutuallyExclusive("l1", "pq")
	cmd.MarkFlagsOneRequired("l1", "l2")
}

func (f *kindFlags) kind() keystore.Kind {
	switch {
	case f.l1:
		return keystore.KindL1
	case f.pq:
		return keystore.KindL2MLDSA
	}
	return keystore.KindL2
}

func (a *app) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create, import, list, split and recombine keys (encrypted keystores under <home>/keys)"}
	cmd.AddCommand(a.keyNewCommand(), a.keyImportCommand(), a.keyListCommand(), a.keySplitCommand(), a.keyCombineCommand())
	return cmd
}

func (a *app) keyNewCommand() *cobra.Command {
	var kf kindFlags
	cmd := &cobra.Command{
		Use:   "new --l1|--l2 [--pq] NAME",
		Short: "Create a key and store it encrypted as <home>/keys/NAME.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := keystore.Generate(kf.kind(), nil)
			if err != nil {
				return err
			}
			k, err := a.save(args[0], key)
			if err != nil {
				return err
			}
			out := keyOut(k)
			return a.print(out, func(p *printer) {
				p.line("created %s key %s: %s", kindWord(k), k.Name, out.public())
				p.line("file %s", k.Path)
			})
		},
	}
	kf.add(cmd)
	return cmd
}

func (a *app) keyImportCommand() *cobra.Command {
	var (
		kf       kindFlags
		seedFile string
		from     string
	)
	cmd := &cobra.Command{
		Use:   "import --l1|--l2 [--pq] NAME (--seed-file FILE | --keystore FILE)",
		Short: "Import a key from a hex seed (e.g. pql1node's -validator-key-file) or an existing keystore file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var k namedKey
			var err error
			if seedFile != "" {
				k, err = a.importSeed(args[0], kf.kind(), seedFile)
			} else {
				k, err = a.importKeystore(args[0], kf.kind(), from)
			}
			if err != nil {
				return err
			}
			out := keyOut(k)
			return a.print(out, func(p *printer) {
				p.line("imported %s key %s: %s", kindWord(k), k.Name, out.public())
				p.line("file %s", k.Path)
			})
		},
	}
	kf.add(cmd)
	cmd.Flags().StringVar(&seedFile, "seed-file", "", "file holding the 32-byte seed in hex (the key is stored encrypted; delete the seed file afterwards)")
	cmd.Flags().StringVar(&from, "keystore", "", "a pqbridge keystore file to copy in as it is (it keeps its passphrase)")
	cmd.MarkFlagsMutuallyExclusive("seed-file", "keystore")
	cmd.MarkFlagsOneRequired("seed-file", "keystore")
	return cmd
}

func (a *app) importSeed(name string, kind keystore.Kind, path string) (namedKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return namedKey{}, fmt.Errorf("seed file: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"))
	defer clear(seed)
	if err != nil || len(seed) != keystore.SeedSize {
		return namedKey{}, fmt.Errorf("seed file %s: want %d bytes in hex", path, keystore.SeedSize)
	}
	return a.save(name, keystore.Key{Kind: kind, Seed: [keystore.SeedSize]byte(seed)})
}

func (a *app) importKeystore(name string, kind keystore.Kind, src string) (namedKey, error) {
	data, err := keystore.ReadFile(src)
	if err != nil {
		return namedKey{}, err
	}
	info, err := keystore.Inspect(data)
	if err != nil {
		return namedKey{}, fmt.Errorf("%s: %w", src, err)
	}
	if info.Format != keystoreFormat || info.Public.Kind != kind {
		return namedKey{}, fmt.Errorf("%s is a %s file of an %s key, want a keystore of an %s key", src, info.Format, info.Public.Kind, kind)
	}
	path, err := a.keyPath(name)
	if err != nil {
		return namedKey{}, err
	}
	if err := os.MkdirAll(a.keysDir(), 0o700); err != nil {
		return namedKey{}, err
	}
	if err := keystore.WriteFile(path, data); err != nil {
		return namedKey{}, err
	}
	return a.key(name)
}

func (a *app) keyListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the keys under <home>/keys (no passphrase needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := a.keys()
			if err != nil {
				return err
			}
			out := make([]keyJSON, 0, len(ks))
			for _, k := range ks {
				out = append(out, keyOut(k))
			}
			return a.print(out, func(p *printer) {
				if len(out) == 0 {
					p.line("no keys in %s (pqwallet key new --l1|--l2 [--pq] NAME creates one)", a.keysDir())
				}
				for _, k := range out {
					p.line("%-16s %-10s %s  id %s", k.Name, k.Kind, k.public(), k.KeyID[:12])
				}
			})
		},
	}
}

func kindWord(k namedKey) string {
	switch k.Info.Public.Kind {
	case keystore.KindL1:
		return "L1"
	case keystore.KindL2MLDSA:
		return "L2 ML-DSA-65"
	}
	return "L2 EdDSA"
}

// short abbreviates a long hex string for prompts and tables.
func short(s string) string {
	if len(s) <= 18 {
		return s
	}
	return s[:10] + "…" + s[len(s)-6:]
}
