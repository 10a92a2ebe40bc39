package sequencer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l2"
)

// BenchmarkRestartMillionAccounts builds a chain of 2^20 accounts (one deposit each, depth 24),
// stops it, then measures how long a pqsequencer process takes to serve again from that data dir
// and its resident memory (issue goal: serving in <= 3 s, RSS <= 400 MB). It takes about a
// minute and measures one restart whatever b.N is: run it with -benchtime 1x.
func BenchmarkRestartMillionAccounts(b *testing.B) {
	t := b
	const n = 1 << 20
	dir := filepath.Join(t.TempDir(), "data")
	deps := &MemoryDepositSource{}
	base := twistededwards.GetEdwardsCurve().Base
	p := base
	for range n {
		deps.Add(l2.PublicKey{X: p.X, Y: p.Y}, 1000)
		p.Add(&p, &base)
	}
	s, err := New(Config{DataDir: dir, ChainID: testChainID, Depth: 24, MaxBlockTxs: l2.MaxBatchTxs, BlockInterval: time.Millisecond,
		SnapshotEvery: 1 << 30, Deposits: deps, CapacityHint: n})
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := s.Subscribe()
	start := time.Now()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for s.Head().DepositEnd < n {
		<-events
	}
	cancel()
	t.Logf("%d deposits in %d blocks in %v", n, s.Head().Number, time.Since(start))
	root := s.Head().PostRoot
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	// Where a restart's time goes, in this process: reading the image, the Go-side walk of it
	// (deposit placement index; at restart it runs alongside the import), and the core's import
	// (which recomputes every hash).
	nums, err := (&store{dir: dir, fs: vfs.Default}).snapshots()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	img, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("snapshot-%d.bin", nums[0])))
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	index := make(map[uint64]uint32)
	if _, _, err := ffi.WalkSnapshot(img, func(a *ffi.IndexedAccount) { index[digest(a.PubKeyX[:], a.PubKeyY[:])] = a.Index }); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	core, err := ffi.Restore(img, n)
	if err != nil {
		t.Fatal(err)
	}
	t3 := time.Now()
	core.Close()
	t.Logf("snapshot of %d MB: read %v, Go walk %v, core import %v", len(img)>>20, t1.Sub(t0), t2.Sub(t1), t3.Sub(t2))
	img, index = nil, nil

	bin := filepath.Join(proctest.Build(t, "pqsequencer"), "pqsequencer")
	start = time.Now()
	proc := proctest.Start(t, bin, nil, "-datadir", dir, "-listen", "127.0.0.1:0", "-chain-id", fmt.Sprint(testChainID), "-depth", "24",
		"-capacity", fmt.Sprint(n))
	defer proc.Kill()
	c, err := rpc.Dial("http://" + proc.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st RPCStatus
	if err := c.Call(&st, "rollup_getStatus"); err != nil {
		t.Fatal(err)
	}
	serving := time.Since(start)
	if st.Root != root {
		t.Fatal("restarted root differs")
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", proc.Pid()))
	var rss, hwm string
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	t.Logf("restart with %d accounts: serving after %v, RSS %s (peak %s)", n, serving, rss, hwm)
	b.ReportMetric(serving.Seconds(), "s_to_serve")
	b.ReportMetric(kB(rss)/1024, "rss_MB")
	b.ReportMetric(kB(hwm)/1024, "peak_rss_MB")
}

// kB parses a /proc status value such as "123456 kB".
func kB(v string) float64 {
	var n float64
	fmt.Sscanf(v, "%f", &n)
	return n
}
