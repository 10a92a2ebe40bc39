// Command pql1node runs the L1 settlement node (package l1/node) and serves its API over QUIC
// (l1/quicrpc; the Go client is l1/l1client). State is in -datadir. SIGINT or SIGTERM stop it
// gracefully: the server first, so no call is acknowledged by a node that is closing, then block
// production and the store. Options come from flags, PQBRIDGE_<FLAG> variables or a -config file
// (cmd/internal/cliconf); -metrics serves Prometheus metrics, /healthz and /readyz
// (cmd/internal/obs).
//
// The validator key (docs/keys.md) comes from an encrypted keystore (-keystore, passphrase from
// -passphrase-file, PQBRIDGE_PASSPHRASE or a prompt), from K shares of a K-of-N split recombined
// in memory at start (-key-shares), or, for development, from an unencrypted hex seed file of
// mode 0600 (-validator-key-file; -init creates it).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/prover"
)

// devBalance funds each -dev address.
const devBalance = 1 << 40

type config struct {
	dataDir       string
	listen        string
	chainID       uint64
	key           keystore.DaemonKey
	initKey       bool
	genesisFile   string
	dev           string
	blockInterval time.Duration
	verifyingKeys string
	transport     transportFlags
	obs           obs.Flags
	consensus     consensusFlags
}

var spec = cliconf.Spec{
	Short: "pqbridge L1 settlement node",
	Long: `pql1node runs the L1 settlement node: it makes a block every --block-interval, settles the
rollups' batches and deposits, and serves its API over QUIC (UDP) to pqwallet, pqsequencer and
pqchallenger. State is in --datadir; the validator key comes from an encrypted keystore
(--keystore), key shares (--key-shares) or, for development, a hex seed file (--validator-key-file,
mode 0600; --init makes one). The chain starts from --genesis, or for development from --dev
addresses. SIGINT or SIGTERM stop it gracefully.`,
	Example: `  pql1node --datadir /tmp/l1 --validator-key-file /tmp/l1.key --init --dev 0x<address>
  pql1node --datadir /var/lib/pql1node --keystore validator.json --passphrase-file /run/secrets/validator \
    --genesis genesis.json --verifying-keys verifying.key --metrics 127.0.0.1:7300`,
}

func main() {
	var c config
	fs := flag.NewFlagSet("pql1node", flag.ExitOnError)
	fs.StringVar(&c.dataDir, "datadir", "pql1node-data", "data directory (pebble store)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9645", "QUIC (UDP) listen address; port 0 picks one")
	fs.Uint64Var(&c.chainID, "chain-id", 1, "L1 chain ID")
	c.key.Register(fs, "validator-key-file", "the validator's")
	fs.BoolVar(&c.initKey, "init", false, "generate the -validator-key-file seed if the file does not exist (development)")
	fs.StringVar(&c.genesisFile, "genesis", "", "genesis JSON: {\"timestamp\", \"alloc\": [{\"address\", \"balance\"}], \"rollups\": [RollupConfig]}")
	fs.StringVar(&c.dev, "dev", "", fmt.Sprintf("comma-separated addresses funded with %d each at genesis (development; instead of -genesis)", uint64(devBalance)))
	fs.DurationVar(&c.blockInterval, "block-interval", time.Second, "time between blocks")
	fs.StringVar(&c.verifyingKeys, "verifying-keys", "", "comma-separated Groth16 verifying-key files (prover verifying.key) for validity batches; a rollup's vk hash must name one of them")
	c.transport.register(fs)
	c.consensus.register(fs)
	c.obs.Register(fs)
	obs.Main(spec, fs, &c.obs, func(ctx context.Context, log *slog.Logger) error { return run(ctx, c, log) })
}

func run(ctx context.Context, c config, log *slog.Logger) error {
	key, err := validatorKey(c)
	if err != nil {
		return err
	}
	ms, err := c.obs.Start(log)
	if err != nil {
		return err
	}
	defer ms.Stop()
	cv, err := loadConsensus(c.consensus, c.initKey)
	if err != nil {
		return err
	}
	gen, rollups, err := genesis(c, key)
	if err != nil {
		return err
	}
	if cv != nil {
		cv.setGenesis(&gen) // the same genesis on every validator
	}
	verifier, err := loadVerifier(c.verifyingKeys, log)
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{Dir: filepath.Join(c.dataDir, "chain"), Genesis: gen, Key: key,
		Verifier: verifier, Judge: fraud.Judge{}, BlockInterval: c.blockInterval, Logger: log.With("component", "node"),
		ExternalConsensus: cv != nil})
	if err != nil {
		return err
	}
	stopNode := n.Stop
	if cv != nil {
		if stopNode, err = cv.start(n, key, gen, c.dataDir, log); err != nil {
			return errors.Join(err, n.Stop())
		}
	}
	// Under CometBFT the genesis validator's node registers them (relayed to the set's mempool).
	if cv == nil || bytes.Equal(key.Public().Bytes(), gen.Validator) {
		if err := registerRollups(n, key, rollups); err != nil {
			return errors.Join(err, stopNode())
		}
	}
	if err := n.Start(ctx); err != nil {
		return errors.Join(err, stopNode())
	}
	scfg, err := c.transport.serverConfig(c.listen, n, log)
	if err != nil {
		return errors.Join(err, stopNode())
	}
	srv, err := n.Serve(ctx, scfg)
	if err != nil {
		return errors.Join(err, stopNode())
	}
	mctx, mcancel := context.WithCancel(ctx)
	m := newMetrics(ms.Registry, n, srv, log)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		m.follow(mctx)
	}()
	// A single validator is caught up by definition: it is ready while it produces blocks.
	ms.Ready.Set(func(context.Context) error { return n.Err() })
	// Tests and scripts read the bound address (the port may be 0) from this line.
	fmt.Printf("listening on %s validator %s\n", srv.Addr(), key.Address())
	log.Info("serving", "addr", srv.Addr().String(), "validator", key.Address(), "chain", c.chainID)
	select {
	case <-ctx.Done():
	case <-n.Failed():
		if cv != nil {
			// A validator under CometBFT stopped at the height it could not apply (its
			// consensus stopped, nothing of the block committed); it keeps serving reads,
			// with the reason in l1_status and pql1node_halted, until it is stopped.
			log.Error("node halted: serving reads until stopped", "err", n.Err())
			<-ctx.Done()
			break
		}
		// A halted node takes no writes in this process (pebble after a failed commit):
		// exit non-zero, for the supervisor to restart it on the same datadir once the
		// disk is fixed. Acknowledged transactions and sealed blocks are on disk.
		log.Error("node halted: exiting", "err", n.Err())
	}
	log.Info("stopping")
	ms.Stop() // before the store closes: a scrape reads it
	mcancel()
	<-followed
	srv.Stop()
	if err := n.Err(); err != nil {
		return errors.Join(err, stopNode())
	}
	return stopNode()
}

// loadVerifier holds the verifying keys validity batches are checked under. With none, every
// validity proof is refused (prover.ErrUnknownKey names the missing key).
func loadVerifier(paths string, log *slog.Logger) (*prover.Verifier, error) {
	v := prover.NewVerifier()
	for _, p := range strings.Split(paths, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("verifying key: %w", err)
		}
		id, err := v.Add(b)
		if err != nil {
			return nil, fmt.Errorf("verifying key %s: %w", p, err)
		}
		log.Info("verifying key", "file", p, "id", id)
	}
	return v, nil
}

// validatorKey loads the validator's key from the source the flags name (keystore.DaemonKey):
// a keystore, K key shares, or a hex seed file, which -init first creates if it does not exist.
func validatorKey(c config) (*pqkey.PrivateKey, error) {
	if c.initKey {
		if c.key.SeedFile == "" || c.key.Keystore != "" || c.key.Shares != "" {
			return nil, errors.New("-init creates the -validator-key-file seed: name that file, and no -keystore or -key-shares")
		}
		if err := initSeedFile(c.key.SeedFile); err != nil {
			return nil, err
		}
	}
	return c.key.Load("validator-key-file")
}

// initSeedFile writes a fresh hex seed to path (mode 0600, never overwriting) if it does not
// exist.
func initSeedFile(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var seed [pqkey.SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	defer clear(seed[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the key file: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(seed[:]) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing the key file: %w", err)
	}
	return nil
}

// genesisFile is the -genesis JSON. Rollups are registered by the validator's first
// transactions (register rollup is an ordinary transaction), so a replay sees them in block 1.
type genesisFile struct {
	Timestamp uint64 `json:"timestamp"`
	Alloc     []struct {
		Address common.Address `json:"address"`
		Balance uint64         `json:"balance"`
	} `json:"alloc"`
	// Fees are the chain's transaction fees (docs/l1.md §5.1); absent: none.
	Fees struct {
		Base        uint64 `json:"base"`
		PerByte     uint64 `json:"perByte"`
		BatchPerKiB uint64 `json:"batchPerKiB"`
	} `json:"fees"`
	Rollups []rollupJSON `json:"rollups"`
}

type rollupJSON struct {
	L2ChainID             uint64               `json:"l2ChainId"`
	VKHash                common.Hash          `json:"vkHash"`
	TreeDepth             uint8                `json:"treeDepth"`
	BatchSize             uint64               `json:"batchSize"`
	SequencerBond         uint64               `json:"sequencerBond"`
	ChallengeWindow       uint64               `json:"challengeWindow"`
	ForcedInclusionWindow uint64               `json:"forcedInclusionWindow"`
	ExodusTimeout         uint64               `json:"exodusTimeout"`
	Governor              chain.GovernorConfig `json:"governor"`
	Sequencers            []common.Address     `json:"sequencers"`
	Guardians             []hexutil.Bytes      `json:"guardians"`
	GuardianThreshold     uint64               `json:"guardianThreshold"`
	ChallengeBond         uint64               `json:"challengeBond"` // absent: 0, no bond
}

// parseGenesis decodes a -genesis file strictly: one JSON object, no unknown fields, nothing
// after it.
func parseGenesis(b []byte) (*genesisFile, error) {
	var f genesisFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the genesis object")
	}
	return &f, nil
}

func genesis(c config, key *pqkey.PrivateKey) (chain.Genesis, []chain.RollupConfig, error) {
	g := chain.Genesis{ChainID: c.chainID, Validator: key.Public().Bytes()}
	if c.genesisFile != "" && c.dev != "" {
		return g, nil, errors.New("-genesis and -dev exclude each other")
	}
	for a := range strings.SplitSeq(c.dev, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !common.IsHexAddress(a) {
			return g, nil, fmt.Errorf("-dev: %q is not an address", a)
		}
		g.Alloc = append(g.Alloc, chain.Alloc{Address: common.HexToAddress(a), Balance: devBalance})
	}
	if c.genesisFile == "" {
		return g, nil, nil
	}
	b, err := os.ReadFile(c.genesisFile)
	if err != nil {
		return g, nil, err
	}
	f, err := parseGenesis(b)
	if err != nil {
		return g, nil, fmt.Errorf("genesis %s: %w", c.genesisFile, err)
	}
	g.Timestamp = f.Timestamp
	g.Fees = chain.Fees{Base: f.Fees.Base, PerByte: f.Fees.PerByte, BatchPerKiB: f.Fees.BatchPerKiB}
	for _, a := range f.Alloc {
		g.Alloc = append(g.Alloc, chain.Alloc{Address: a.Address, Balance: a.Balance})
	}
	var rollups []chain.RollupConfig
	for _, r := range f.Rollups {
		cfg := chain.RollupConfig{L2ChainID: r.L2ChainID, VKHash: r.VKHash, TreeDepth: r.TreeDepth, BatchSize: r.BatchSize,
			SequencerBond: r.SequencerBond, ChallengeWindow: r.ChallengeWindow, ForcedInclusionWindow: r.ForcedInclusionWindow,
			ExodusTimeout: r.ExodusTimeout, Governor: r.Governor, Sequencers: r.Sequencers, GuardianThreshold: r.GuardianThreshold,
			ChallengeBond: r.ChallengeBond}
		for _, k := range r.Guardians {
			cfg.Guardians = append(cfg.Guardians, k)
		}
		rollups = append(rollups, cfg)
	}
	return g, rollups, nil
}

// registerRollups submits the genesis rollups as the validator's first transactions, once: on a
// fresh chain whose validator has sent nothing and whose mempool is empty (after a crash before
// block 1 the logged registrations are still in the mempool).
func registerRollups(n *node.Node, key *pqkey.PrivateKey, rollups []chain.RollupConfig) error {
	if len(rollups) == 0 {
		return nil
	}
	s, err := n.Status()
	if err != nil {
		return err
	}
	acct, err := n.Account(key.Address())
	if err != nil {
		return err
	}
	if s.Height != 0 || s.MempoolTxs != 0 || acct.Nonce != 0 {
		return nil
	}
	for i := range rollups {
		raw, err := chain.SignTx(key, chain.TxRegisterRollup, s.ChainID, uint64(i), &rollups[i])
		if err != nil {
			return err
		}
		if _, err := n.SubmitTx(raw); err != nil {
			return fmt.Errorf("registering genesis rollup %d: %w", rollups[i].L2ChainID, err)
		}
	}
	return nil
}
