package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// Guardian files (docs/wallet.md, guardian): one guardian's signature, written offline by
// `guardian sign`, and a combined action, written by `guardian combine`; both name what was
// signed, so that files of different actions are never mixed.
const (
	guardianSigFormat    = "pqbridge-guardian-signature"
	guardianActionFormat = "pqbridge-guardian-action"
)

// guardianAction is what every guardian of an action signs: the L1 chain, the rollup, pause,
// unpause or rotate, and the rollup's guardian nonce (l1api.GuardianMessage under
// pqkey.ContextGuardianPause); a rotate also the proposed config (l1api.ConfigChangeMessage under
// pqkey.ContextGuardianConfig).
type guardianAction struct {
	L1ChainID uint64 `json:"l1ChainId"`
	Rollup    uint64 `json:"rollup"`
	Action    string `json:"action"`
	Nonce     uint64 `json:"nonce"`
	// Config is the RLP of the proposed l1api.RollupConfig, hex (rotate only): a string, so that
	// files of different proposals compare unequal.
	Config string `json:"config,omitempty"`
}

type guardianSig struct {
	PublicKey hexutil.Bytes `json:"publicKey"`
	Signature hexutil.Bytes `json:"signature"`
}

// guardianFile is either format: a signature file has one entry in Signatures.
type guardianFile struct {
	Format string `json:"format"`
	guardianAction
	Signatures []guardianSig `json:"signatures"`
}

// actionRotate is the guardian action of a config change (l1api.TxConfigChange).
const actionRotate = "rotate"

func parseAction(s string) (uint8, error) {
	switch s {
	case "pause":
		return l1api.ActionPause, nil
	case "unpause":
		return l1api.ActionUnpause, nil
	}
	return 0, fmt.Errorf("guardian action %q: want pause, unpause or rotate", s)
}

// config decodes the proposed config of a rotate.
func (g *guardianAction) config() (*l1api.RollupConfig, error) {
	b, err := hexutil.Decode(g.Config)
	if err != nil {
		return nil, fmt.Errorf("rotate: config: %w", err)
	}
	var c l1api.RollupConfig
	if err := rlp.DecodeBytes(b, &c); err != nil {
		return nil, fmt.Errorf("rotate: config: %w", err)
	}
	return &c, nil
}

// message is what a guardian signs for the action, and with which context.
func (g *guardianAction) message() (pqkey.Context, []byte, error) {
	if g.Action == actionRotate {
		c, err := g.config()
		if err != nil {
			return "", nil, err
		}
		h, err := l1api.ConfigHash(c)
		if err != nil {
			return "", nil, err
		}
		msg, err := rlp.EncodeToBytes(&l1api.ConfigChangeMessage{RollupID: g.Rollup, ConfigHash: h})
		return pqkey.ContextGuardianConfig, msg, err
	}
	if g.Config != "" {
		return "", nil, fmt.Errorf("guardian action %s carries a config: only rotate does", g.Action)
	}
	action, err := parseAction(g.Action)
	if err != nil {
		return "", nil, err
	}
	msg, err := rlp.EncodeToBytes(&l1api.GuardianMessage{RollupID: g.Rollup, Action: action})
	return pqkey.ContextGuardianPause, msg, err
}

// verify checks one signature of the action with its public key.
func (g *guardianAction) verify(s guardianSig) error {
	ctx, msg, err := g.message()
	if err != nil {
		return err
	}
	pk, err := pqkey.ParsePublicKey(s.PublicKey)
	if err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	if err := pk.Verify(ctx, g.L1ChainID, g.Nonce, msg, s.Signature); err != nil {
		return fmt.Errorf("signature by %s does not verify for %s: %w", pk.Address().Hex(), g, err)
	}
	return nil
}

func (g guardianAction) String() string {
	return fmt.Sprintf("%s of rollup %d at guardian nonce %d on L1 chain %d", g.Action, g.Rollup, g.Nonce, g.L1ChainID)
}

// sign makes one guardian's signature of the action.
func (g *guardianAction) sign(k *pqkey.PrivateKey) (guardianSig, error) {
	ctx, msg, err := g.message()
	if err != nil {
		return guardianSig{}, err
	}
	sig, err := k.Sign(ctx, g.L1ChainID, g.Nonce, msg)
	if err != nil {
		return guardianSig{}, err
	}
	return guardianSig{PublicKey: k.Public().Bytes(), Signature: sig}, nil
}

// loadGuardianFiles reads signature or action files of one action, verifies every signature
// and drops repeats of a key; files of different actions are refused, each named.
func loadGuardianFiles(paths []string) (*guardianFile, error) {
	out := &guardianFile{Format: guardianActionFormat}
	for i, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var f guardianFile
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: not a guardian file: %w", path, err)
		}
		if f.Format != guardianSigFormat && f.Format != guardianActionFormat {
			return nil, fmt.Errorf("%s: format %q, want %s or %s", path, f.Format, guardianSigFormat, guardianActionFormat)
		}
		if i == 0 {
			out.guardianAction = f.guardianAction
		} else if f.guardianAction != out.guardianAction {
			return nil, fmt.Errorf("%s signs %s, but %s signs %s: every file must sign the same action", path, f.guardianAction, paths[0], out.guardianAction)
		}
		for _, s := range f.Signatures {
			if err := f.verify(s); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if !out.has(s.PublicKey) {
				out.Signatures = append(out.Signatures, s)
			}
		}
	}
	if len(paths) == 0 || len(out.Signatures) == 0 {
		return nil, fmt.Errorf("no guardian signatures given")
	}
	return out, nil
}

func (f *guardianFile) has(pk []byte) bool {
	for _, s := range f.Signatures {
		if bytes.Equal(s.PublicKey, pk) {
			return true
		}
	}
	return false
}

// payload builds the transaction of the action for rollup r — a GuardianAction, or for a rotate
// a ConfigChange — and checks it as L1 will, before anything is sent: the chain, the rollup, the
// nonce (an old action is a replay), every signer a guardian, at least the threshold of them.
func (f *guardianFile) payload(r *l1api.Rollup, chainID uint64) (l1api.TxType, any, error) {
	sigs, err := f.check(r, chainID)
	if err != nil {
		return 0, nil, err
	}
	if f.Action == actionRotate {
		c, err := f.config()
		if err != nil {
			return 0, nil, err
		}
		return l1api.TxConfigChange, &l1api.ConfigChange{RollupID: r.ID, Nonce: f.Nonce, Config: *c, Sigs: sigs}, nil
	}
	action, err := parseAction(f.Action)
	if err != nil {
		return 0, nil, err
	}
	return l1api.TxGuardianAction, &l1api.GuardianAction{RollupID: r.ID, Action: action, Nonce: f.Nonce, Sigs: sigs}, nil
}

// check checks the file against rollup r and returns its signatures by guardian index.
func (f *guardianFile) check(r *l1api.Rollup, chainID uint64) ([]l1api.GuardianSig, error) {
	switch {
	case f.L1ChainID != chainID:
		return nil, fmt.Errorf("the signatures are for L1 chain %d, this is chain %d", f.L1ChainID, chainID)
	case f.Rollup != r.ID:
		return nil, fmt.Errorf("the signatures are for rollup %d, not rollup %d (--rollup)", f.Rollup, r.ID)
	case f.Nonce < r.GuardianNonce:
		return nil, fmt.Errorf("the signatures are for guardian nonce %d, but rollup %d is at nonce %d: that action was used or superseded, a replay is refused; sign again at nonce %d",
			f.Nonce, r.ID, r.GuardianNonce, r.GuardianNonce)
	case f.Nonce > r.GuardianNonce:
		return nil, fmt.Errorf("the signatures are for guardian nonce %d, but rollup %d is at nonce %d: send the earlier actions first", f.Nonce, r.ID, r.GuardianNonce)
	}
	var sigs []l1api.GuardianSig
	for _, s := range f.Signatures {
		i := guardianIndex(r, s.PublicKey)
		if i < 0 {
			pk, err := pqkey.ParsePublicKey(s.PublicKey)
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%s is not a guardian of rollup %d (pqwallet guardian status lists them)", pk.Address().Hex(), r.ID)
		}
		sigs = append(sigs, l1api.GuardianSig{Guardian: uint64(i), Sig: s.Signature})
	}
	if uint64(len(sigs)) < r.Config.GuardianThreshold {
		return nil, fmt.Errorf("%d guardian signatures, rollup %d needs %d of its %d guardians", len(sigs), r.ID,
			r.Config.GuardianThreshold, len(r.Config.Guardians))
	}
	return sigs, nil
}

func guardianIndex(r *l1api.Rollup, pk []byte) int {
	for i, g := range r.Config.Guardians {
		if bytes.Equal(g, pk) {
			return i
		}
	}
	return -1
}

// guardianKeys unlocks the guardian keys named (wallet keystores) and those recombined from
// share files (each argument a comma-separated list of one split's shares).
func (a *app) guardianKeys(names, shareSets []string) ([]*pqkey.PrivateKey, error) {
	var out []*pqkey.PrivateKey
	for _, name := range names {
		k, err := a.keystoreArg(name)
		if err != nil {
			return nil, err
		}
		key, err := a.unlockL1(k)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	for _, set := range shareSets {
		var paths []string
		for p := range strings.SplitSeq(set, ",") {
			if p = strings.TrimSpace(p); p != "" {
				paths = append(paths, p)
			}
		}
		shares, err := keystore.LoadShares(paths, func(path string) ([]byte, error) {
			return keystore.Passphrase(a.passphraseSource(fmt.Sprintf("Passphrase for share %s: ", path), false))
		})
		if err != nil {
			return nil, err
		}
		key, err := keystore.Combine(shares)
		if err != nil {
			return nil, err
		}
		l1, err := key.L1()
		if err != nil {
			return nil, err
		}
		out = append(out, l1)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no guardian key: name one with --guardian-key (a wallet keystore) or --guardian-shares (share files of one key, comma-separated)")
	}
	return out, nil
}

// keystoreArg is an L1 keystore named in the wallet, or, for an argument holding a path
// separator or ending in .json, the keystore file at that path (a guardian's keystore need not
// live in the wallet).
func (a *app) keystoreArg(arg string) (namedKey, error) {
	if !strings.ContainsRune(arg, os.PathSeparator) && !strings.HasSuffix(arg, ".json") {
		return a.keyOfKind(arg, keystore.KindL1)
	}
	data, err := keystore.ReadFile(arg)
	if err != nil {
		return namedKey{}, err
	}
	info, err := keystore.Inspect(data)
	if err != nil {
		return namedKey{}, fmt.Errorf("%s: %w", arg, err)
	}
	if info.Format != keystoreFormat || info.Public.Kind != keystore.KindL1 {
		return namedKey{}, fmt.Errorf("%s is not an L1 keystore (%s, %s)", arg, info.Format, info.Public.Kind)
	}
	return namedKey{Name: arg, Path: arg, Info: info}, nil
}
