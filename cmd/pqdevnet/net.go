package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/prover"
)

// The devnet's chains and rollup.
const (
	l1ChainID = 900
	l2ChainID = 901
	rollupID  = 1

	fundsL1       = 1_000_000_000 // each funded L1 account at genesis
	sequencerBond = 10_000
	// challengeBond is posted with each fraud proof: returned with the reward when upheld,
	// burned when the judge rejects the proof (docs/settlement.md).
	challengeBond = 5_000
	// The devnet's L1 fees (docs/l1.md §5.1): a transfer (≈5.3 KB signed) costs ≈6,300, a
	// batch of a few KiB ≈10,000 more than its bytes.
	feeBase, feePerByte, feeBatchPerKiB = 1_000, 1, 100
	// marker is the file that says a directory is a devnet's, so that --dir is never a
	// directory pqdevnet did not make.
	marker = "PQDEVNET"
)

// Fixed ports (--ports fixed): the daemons' and the wallet's defaults, so that bin/pqwallet
// needs no options beyond its home.
var fixedPorts = map[string]string{
	"l1": "127.0.0.1:9645", "sequencer": "127.0.0.1:8645", "prover": "127.0.0.1:8646",
	"l1-metrics": "127.0.0.1:9100", "sequencer-metrics": "127.0.0.1:9101", "prover-metrics": "127.0.0.1:9102",
	"challenger-metrics": "127.0.0.1:9103",
}

// network is the devnet: its files, its keys and, once started, its daemons.
type network struct {
	o                    options
	dir, logDir, keysDir string
	bins                 map[string]string
	params               prover.Params
	vkID                 prover.KeyID
	passFile             string
	validator, sequencer *pqkey.PrivateKey
	challenger           *pqkey.PrivateKey
	guardians            []*pqkey.PrivateKey // 3, threshold 2 (guardians.go)
	walletHome           string
	// vals are the L1 validators with --validators > 1 (validators.go); none: one pql1node.
	vals      []*validator
	valSet    *qc.ValidatorSet // their ML-DSA keys and stakes, as clients pin them
	valCommon []string         // the flags every validator shares
	alice     common.Address   // the demo user's L1 address (funded at genesis)

	daemons []*daemon
	// dead is closed when the first daemon exits on its own; deadDaemon is that daemon.
	dead       chan struct{}
	deadOnce   sync.Once
	deadDaemon *daemon
	upAt       time.Time // every daemon ready

	// Addresses, once started.
	l1Addr, seqAddr, proverAddr string
	metrics                     map[string]string // daemon name -> metrics address
	l1                          *l1client.Client
	seqRPC                      *rpc.Client

	finalMu      sync.Mutex
	firstFinalAt time.Duration // from upAt to the first final batch on L1, once seen
}

// setup makes the devnet directory, its keys (daemons' keystores and shares, the wallet's keys
// through pqwallet itself), the Groth16 dev keys and the genesis.
func setup(ctx context.Context, o options, u *ui) (*network, error) {
	n := &network{o: o, bins: map[string]string{}, params: prover.Params{Depth: o.depth, BatchSize: o.batch},
		dead: make(chan struct{}), metrics: map[string]string{}}
	if err := n.params.Validate(); err != nil {
		return nil, fmt.Errorf("--depth %d --batch %d: %w", o.depth, o.batch, err)
	}
	for _, b := range []string{"pql1node", "pqsequencer", "pqprover", "pqchallenger", "pqwallet"} {
		p, err := filepath.Abs(filepath.Join(o.bin, b))
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return nil, fmt.Errorf("%s not found in --bin %s: build the binaries first (make devnet does)", b, o.bin)
		}
		n.bins[b] = p
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, err
	}
	if err := freshDir(dir); err != nil {
		return nil, err
	}
	n.dir, n.logDir, n.keysDir, n.walletHome = dir, filepath.Join(dir, "logs"), filepath.Join(dir, "keys"), filepath.Join(dir, "wallet")
	for _, d := range []string{n.logDir, n.keysDir, n.walletHome} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	u.header("pqbridge devnet")
	u.printf("directory %s (recreated on every run)\n\n", dir)

	// Operator keys: fresh, encrypted under one dev passphrase; the sequencer's split 2-of-3.
	done := u.task("operator keys: encrypted keystores (Argon2id), the sequencer's key split 2-of-3")
	if err := n.makeOperatorKeys(); err != nil {
		return nil, err
	}
	done("")

	// The Groth16 keys of the devnet's circuit, from the cache or a dev setup with a progress bar.
	u.printf("Groth16 keys for %s (depth %d, %d transactions per batch), cache %s\n", n.params, o.depth, o.batch, o.keysCache)
	keys, err := prover.LoadOrDevSetup(o.keysCache, n.params, prover.NewProgress(u.w))
	if err != nil {
		return nil, fmt.Errorf("prover keys: %w", err)
	}
	if n.vkID, err = prover.VerifyingKeyID(keys.VK); err != nil {
		return nil, err
	}
	u.printf("  verifying key %s (dev setup: not for real funds)\n", n.vkID.String()[:16])

	// The demo user's keys, made with the wallet like a user would.
	if err := n.writeWalletConfig(); err != nil {
		return nil, err
	}
	u.printf("\nWallet keys (home %s):\n", n.walletHome)
	for _, k := range [][]string{{"--l1", "alice"}, {"--l2", "bob"}, {"--l2", "carol"}} {
		if _, err := n.wallet(ctx, u, append([]string{"key", "new"}, k...)...); err != nil {
			return nil, err
		}
	}
	var list []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	if err := n.walletJSON(ctx, &list, "key", "list"); err != nil {
		return nil, err
	}
	for _, k := range list {
		if k.Name == "alice" {
			n.alice = common.HexToAddress(k.Address)
		}
	}
	if n.alice == (common.Address{}) {
		return nil, errors.New("pqwallet key list shows no L1 key alice")
	}
	if err := n.writeGenesis(); err != nil {
		return nil, err
	}
	return n, nil
}

// freshDir empties dir if it is a devnet's (or does not exist) and marks it.
func freshDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("--dir %s exists and is not a devnet directory (no %s file): refusing to delete it", dir, marker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("made by pqdevnet; removed and recreated on every run\n"), 0o600)
}

func (n *network) path(parts ...string) string {
	return filepath.Join(append([]string{n.dir}, parts...)...)
}

// makeOperatorKeys writes the validator's and challenger's keystores, the sequencer's shares
// and the validator's public key, all under one random dev passphrase.
func (n *network) makeOperatorKeys() error {
	var pass [16]byte
	if _, err := rand.Read(pass[:]); err != nil {
		return err
	}
	passphrase := []byte(hex.EncodeToString(pass[:]))
	n.passFile = filepath.Join(n.keysDir, "passphrase")
	if err := keystore.WriteFile(n.passFile, append(passphrase, '\n')); err != nil {
		return err
	}
	gen := func() (*pqkey.PrivateKey, error) { return pqkey.GenerateKey(rand.Reader) }
	var err error
	if n.validator, err = gen(); err != nil {
		return err
	}
	if n.sequencer, err = gen(); err != nil {
		return err
	}
	if n.challenger, err = gen(); err != nil {
		return err
	}
	params := keystore.DefaultParams()
	if err := keystore.Save(filepath.Join(n.keysDir, "validator.json"), keystore.FromL1(n.validator), passphrase, params); err != nil {
		return err
	}
	if err := keystore.Save(filepath.Join(n.keysDir, "challenger.json"), keystore.FromL1(n.challenger), passphrase, params); err != nil {
		return err
	}
	shares, err := keystore.Split(keystore.FromL1(n.sequencer), 2, 3)
	if err != nil {
		return err
	}
	for i := range shares {
		b, err := shares[i].Encrypt(passphrase, params)
		if err != nil {
			return err
		}
		if err := keystore.WriteFile(filepath.Join(n.keysDir, fmt.Sprintf("sequencer.share%d.json", i+1)), b); err != nil {
			return err
		}
	}
	if err := n.makeGuardianKeys(passphrase, params); err != nil {
		return err
	}
	if err := n.makeValidatorKeys(passphrase, params); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.keysDir, "validator.pub"), []byte(hex.EncodeToString(n.validator.Public().Bytes())+"\n"), 0o644)
}

// writeGenesis writes the L1 genesis: fees on, the operators (the validator too: it pays for
// the rollup's registration) and alice funded, one rollup registered with the devnet
// circuit's verifying key.
func (n *network) writeGenesis() error {
	type alloc struct {
		Address common.Address `json:"address"`
		Balance uint64         `json:"balance"`
	}
	g := map[string]any{
		"alloc": []alloc{{n.validator.Public().Address(), fundsL1}, {n.sequencer.Address(), fundsL1},
			{n.challenger.Address(), fundsL1}, {n.alice, fundsL1}},
		"fees": map[string]uint64{"base": feeBase, "perByte": feePerByte, "batchPerKiB": feeBatchPerKiB},
		"rollups": []map[string]any{{
			"l2ChainId": l2ChainID, "vkHash": common.Hash(n.vkID), "treeDepth": n.params.Depth, "batchSize": n.params.BatchSize,
			"sequencerBond": sequencerBond, "challengeBond": challengeBond, "challengeWindow": n.o.challengeWindow,
			// Deposits must be in a batch within 2 minutes; the rollup freezes only after a
			// day without a final batch (a devnet left idle posts no batches).
			"forcedInclusionWindow": uint64(2*time.Minute/n.blockTime()) + 1,
			"exodusTimeout":         uint64(24*time.Hour/n.blockTime()) + 1,
			"sequencers":            []common.Address{n.sequencer.Address()},
			// The governor: ten-minute windows, a cap far above the demo's amounts, a large
			// withdrawal above step 5's (only step 8's is delayed) held for about 5 seconds, the
			// anomaly detector after three windows.
			"governor": map[string]any{"windowBlocks": uint64(10*time.Minute/n.blockTime()) + 1, "windowCap": 100_000_000,
				"largeWithdrawal": largeWithdrawal, "delayBlocks": uint64(5*time.Second/n.blockTime()) + 1, "anomalyFactor": 10,
				"ewmaShift": 2, "warmupWindows": 3},
			// Three guardians, any two of which pause or unpause the rollup (guardians.go).
			"guardians": n.guardianKeysHex(), "guardianThreshold": guardianThreshold,
		}},
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(n.path("genesis.json"), b, 0o644)
}

// writeWalletConfig points the wallet home at the devnet, so that
// `PQBRIDGE_HOME=<dir>/wallet bin/pqwallet …` needs no other option.
func (n *network) writeWalletConfig() error {
	cfg := map[string]any{"l1-chain-id": l1ChainID, "l2-chain-id": l2ChainID, "rollup": rollupID,
		"passphrase-file": n.passFile}
	n.l1Trust(cfg)
	if n.l1Addr != "" {
		cfg["l1"], cfg["sequencer"] = n.l1List(), "http://"+n.seqAddr
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.walletHome, "config.json"), b, 0o600)
}

func (n *network) addr(name string) string {
	if n.o.ports == "fixed" {
		return fixedPorts[name]
	}
	return "127.0.0.1:0"
}

// start starts the four daemons in order, each once the one it talks to is serving.
func (n *network) start(ctx context.Context, u *ui) error {
	u.header("Starting the network")
	started := time.Now()
	log := []string{"--log-format", "text"}

	if err := n.startL1(ctx, u, log); err != nil {
		return err
	}

	pr, err := n.spawn(ctx, u, "pqprover", append([]string{"--listen", n.addr("prover"), "--keys", n.o.keysCache,
		"--depth", fmt.Sprint(n.params.Depth), "--batch", fmt.Sprint(n.params.BatchSize), "--metrics", n.addr("prover-metrics")}, log...))
	if err != nil {
		return err
	}
	if n.proverAddr, err = pr.addrLine(ctx, "listening on "); err != nil {
		return err
	}
	if n.metrics["pqprover"], err = pr.addrLine(ctx, "metrics on "); err != nil {
		return err
	}
	u.ok("pqprover      Groth16 prover, http://%s (%s), metrics http://%s", n.proverAddr, n.params, n.metrics["pqprover"])

	shares := filepath.Join(n.keysDir, "sequencer.share1.json") + "," + filepath.Join(n.keysDir, "sequencer.share3.json")
	seq, err := n.spawn(ctx, u, "pqsequencer", append([]string{"--datadir", n.path("sequencer"), "--listen", n.addr("sequencer"),
		"--l1", n.l1ListFrom(len(n.vals) - 1), "--l1-chain-id", fmt.Sprint(l1ChainID), n.l1TrustFlag(), n.l1TrustFile(), "--rollup", fmt.Sprint(rollupID),
		"--key-shares", shares, "--passphrase-file", n.passFile, "--prover", "http://" + n.proverAddr, "--mode", "auto",
		"--challenge-wait", n.o.proofWait.String(), "--batch-interval", "1s", "--block-interval", "100ms", "--devnet",
		"--metrics", n.addr("sequencer-metrics")}, log...))
	if err != nil {
		return err
	}
	if n.seqAddr, err = seq.addrLine(ctx, "listening on "); err != nil {
		return err
	}
	if n.metrics["pqsequencer"], err = seq.addrLine(ctx, "metrics on "); err != nil {
		return err
	}
	if n.seqRPC, err = rpc.DialContext(ctx, "http://"+n.seqAddr); err != nil {
		return err
	}
	u.ok("pqsequencer   L2 sequencer, JSON-RPC http://%s (key from 2 of 3 shares), metrics http://%s", n.seqAddr, n.metrics["pqsequencer"])

	ch, err := n.spawn(ctx, u, "pqchallenger", append([]string{"--l1", n.l1List(), "--l1-chain-id", fmt.Sprint(l1ChainID),
		n.l1TrustFlag(), n.l1TrustFile(), "--keystore", filepath.Join(n.keysDir, "challenger.json"), "--passphrase-file", n.passFile,
		"--rollup", fmt.Sprint(rollupID), "--datadir", n.path("challenger"), "--metrics", n.addr("challenger-metrics")}, log...))
	if err != nil {
		return err
	}
	if _, err := ch.waitLine(ctx, "watching rollup "); err != nil {
		return err
	}
	if n.metrics["pqchallenger"], err = ch.addrLine(ctx, "metrics on "); err != nil {
		return err
	}
	u.ok("pqchallenger  challenger, watching rollup %d, metrics http://%s", rollupID, n.metrics["pqchallenger"])

	for _, d := range n.daemons {
		if err := waitUntil(ctx, 30*time.Second, d.name+" ready", func() (bool, error) { return httpOK("http://" + n.metrics[d.name] + "/readyz"), nil }); err != nil {
			return err
		}
	}
	n.upAt = time.Now()
	go n.watchFirstFinal(ctx)
	u.printf("\nAll %d daemons ready in %v; logs in %s\n", len(n.daemons), n.upAt.Sub(started).Round(100*time.Millisecond), n.logDir)
	return n.writeWalletConfig()
}

// stop stops the daemons in the reverse order of their start.
func (n *network) stop(u *ui) {
	if n.seqRPC != nil {
		n.seqRPC.Close()
	}
	if n.l1 != nil {
		n.l1.Close()
	}
	for _, v := range n.vals {
		if v.c != nil {
			v.c.Close()
		}
	}
	for i := len(n.daemons) - 1; i >= 0; i-- {
		n.daemons[i].stop()
	}
}

// daemon is one child process: its stdout lines kept (the addresses are read from them) and
// copied with its stderr into its log file.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	net     *network

	mu       sync.Mutex
	lines    []string
	exited   chan struct{}
	err      error
	stopping bool
}

func (n *network) spawn(ctx context.Context, u *ui, name string, args []string) (*daemon, error) {
	logPath := filepath.Join(n.logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "# %s %s\n", name, strings.Join(args, " "))
	cmd := exec.Command(n.bins[name], args...)
	cmd.Env = append(cleanEnv(), "NO_COLOR=1")
	// Its own process group, so that Ctrl-C reaches pqdevnet only (which stops the daemons in
	// order), and SIGTERM if pqdevnet dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	d := &daemon{name: name, cmd: cmd, logPath: logPath, net: n, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	n.daemons = append(n.daemons, d)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			d.mu.Lock()
			d.lines = append(d.lines, line)
			d.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		logFile.Close()
		d.mu.Lock()
		d.err = err
		stopping := d.stopping
		d.mu.Unlock()
		close(d.exited)
		if !stopping {
			d.net.deadOnce.Do(func() {
				d.net.deadDaemon = d
				close(d.net.dead)
			})
		}
	}()
	return d, nil
}

// waitLine waits for a stdout line starting with prefix and returns the rest of it.
func (d *daemon) waitLine(ctx context.Context, prefix string) (string, error) {
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		d.mu.Lock()
		for _, l := range d.lines {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				d.mu.Unlock()
				return rest, nil
			}
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-d.exited:
			return "", d.deathError()
		case <-deadline:
			return "", fmt.Errorf("%s printed no %q line in 2 minutes; its log: %s", d.name, strings.TrimSpace(prefix), d.logPath)
		case <-tick.C:
		}
	}
}

// addrLine is waitLine's first word: the address of "listening on ADDR …".
func (d *daemon) addrLine(ctx context.Context, prefix string) (string, error) {
	rest, err := d.waitLine(ctx, prefix)
	if err != nil {
		return "", err
	}
	if f := strings.Fields(rest); len(f) > 0 {
		return f[0], nil
	}
	return "", fmt.Errorf("%s: %q names no address", d.name, prefix+rest)
}

// deathError says that the daemon exited, with the end of its log.
func (d *daemon) deathError() error {
	d.mu.Lock()
	err := d.err
	d.mu.Unlock()
	return fmt.Errorf("%s exited (%v); the end of its log %s:\n%s", d.name, err, d.logPath, tail(d.logPath, 12))
}

func (d *daemon) stop() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// tail returns the last n lines of a file, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// wallet runs pqwallet with the devnet's wallet home, printing the command and its output.
func (n *network) wallet(ctx context.Context, u *ui, args ...string) (string, error) {
	u.command("pqwallet " + strings.Join(args, " "))
	out, err := n.walletRaw(ctx, args...)
	u.output(out)
	if err != nil {
		return out, fmt.Errorf("pqwallet %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// walletJSON runs pqwallet --json quietly and decodes its output into v.
func (n *network) walletJSON(ctx context.Context, v any, args ...string) error {
	out, err := n.walletRaw(ctx, append(args, "--json")...)
	if err != nil {
		return fmt.Errorf("pqwallet %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("pqwallet %s --json: %w: %q", strings.Join(args, " "), err, out)
	}
	return nil
}

func (n *network) walletRaw(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bins["pqwallet"], args...)
	cmd.Env = append(cleanEnv(), "PQBRIDGE_HOME="+n.walletHome)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// devnetCall calls the sequencer's devnet_ namespace (only served with --devnet).
func (n *network) devnetCall(ctx context.Context, u *ui, result any, method string, args ...any) error {
	params, _ := json.Marshal(args)
	u.command(fmt.Sprintf(`curl -s http://%s -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}'`,
		n.seqAddr, method, params))
	var raw json.RawMessage
	if err := n.seqRPC.CallContext(ctx, &raw, method, args...); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	u.output(string(raw))
	if result != nil {
		return json.Unmarshal(raw, result)
	}
	return nil
}

// waitUntil polls cond every 100 ms until it is true, it fails, or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cleanEnv is the environment without PQBRIDGE_ variables: the devnet's options are all on
// the command line or in the wallet's config.json, and a variable left in the user's shell
// (which overrides config files) must not point a daemon or the wallet elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PQBRIDGE_") {
			env = append(env, kv)
		}
	}
	return env
}

// watchFirstFinal polls L1 every 50 ms from the moment the daemons are ready until the rollup's
// first batch is final: the figure the summary reports.
func (n *network) watchFirstFinal(ctx context.Context) {
	for ctx.Err() == nil {
		if r, err := n.l1.Rollup(ctx, rollupID); err == nil && r.FinalNumber > 0 {
			n.finalMu.Lock()
			n.firstFinalAt = time.Since(n.upAt)
			n.finalMu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// firstFinal is the time from the daemons ready to the first final batch (0: none yet).
func (n *network) firstFinal() time.Duration {
	n.finalMu.Lock()
	defer n.finalMu.Unlock()
	return n.firstFinalAt
}

// whileAlive returns a context that is also cancelled when a daemon exits on its own, so that
// a demo step waiting on the network ends at once instead of at its timeout.
func (n *network) whileAlive(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-n.dead:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// deathError is the error of the daemon that exited on its own, nil if none did.
func (n *network) deathError() error {
	select {
	case <-n.dead:
		return n.deadDaemon.deathError()
	default:
		return nil
	}
}
