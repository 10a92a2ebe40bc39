package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"

	"github.com/pqbridge/pqbridge/internal/proctest"
)

const (
	rssLimitKB = 600 << 10 // the gate: the sequencer stays under 600 MB
	// slowConnsTotal slow connections are held by two processes, this test and a child of it, so
	// that each stays well inside a 20,000 file-descriptor limit.
	slowConnsTotal = 20_000
	// slowConnsEnv, "ADDR N", makes the test binary the child that holds N slow connections to
	// ADDR until its standard input closes.
	slowConnsEnv = "PQBRIDGE_TEST_SLOW_CONNS"
)

// TestSequencerRPCLimits attacks a pqsequencer process (default -rpc-* limits, a short
// WebSocket write timeout) as issue 13 did on main: a 10,000-call HTTP batch, one 30 MB
// WebSocket message of rollup_getAccount(i, true) calls, a WebSocket client that sends batches
// of proofs and never reads, and 20,000 slow HTTP connections (half from a child process). The child's peak RSS stays under 600 MB, each refusal is counted under its reason,
// a fresh client is served during the connection flood, and the admin namespace needs its token.
func TestSequencerRPCLimits(t *testing.T) {
	if v := os.Getenv(slowConnsEnv); v != "" {
		slowConnsChild(t, v)
		return
	}
	dir := t.TempDir()
	bin := proctest.Build(t, "pqsequencer")
	token := "rpc-limits-test-admin-token"
	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), nil, "-dev", "-devnet", "-listen", "127.0.0.1:0",
		"-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0", "-rpc-ws-write-timeout", "2s",
		"-rpc-read-header-timeout", "2s", "-rpc-admin-token-file", proctest.WriteFile(t, dir, "admin.token", token+"\n"))
	addr := seq.Addr(t)

	t.Run("http batch", func(t *testing.T) {
		resp, err := http.Post("http://"+addr, "application/json", bytes.NewReader(getAccountBatch(0, 10_000)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "batch too large") || len(body) > 1024 {
			t.Fatalf("a 10,000-call batch: status %d, %d bytes: %.300s", resp.StatusCode, len(body), body)
		}
	})

	t.Run("admin token", func(t *testing.T) {
		call := func(tok string) error {
			opts := []rpc.ClientOption{}
			if tok != "" {
				opts = append(opts, rpc.WithHeader("Authorization", "Bearer "+tok))
			}
			c, err := rpc.DialOptions(context.Background(), "http://"+addr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var res SetPolicyResult
			return c.Call(&res, "devnet_setPolicy", "optimistic")
		}
		for _, tc := range []struct{ tok, want string }{
			{"", "does not exist"}, {"wrong-token", "401"}, {token, errNoEngine.Error()},
		} {
			if err := call(tc.tok); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("devnet_setPolicy with token %q: %v, want %q", tc.tok, err, tc.want)
			}
		}
	})

	t.Run("30 MB message", func(t *testing.T) {
		ws := dialWS(t, addr)
		defer ws.Close()
		msg := getAccountBatch(0, 400_000)
		if len(msg) < 30_000_000 {
			t.Fatalf("message of %d bytes", len(msg))
		}
		if err := ws.SetWriteDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		err := ws.WriteMessage(websocket.TextMessage, msg) // cut by the server past its limit, or sent and refused
		t.Logf("30 MB message written: err %v", err)
		waitRefused(t, seq, "ws_message_size", 1)
		checkRSS(t, seq.Pid())
	})

	t.Run("never reading", func(t *testing.T) {
		ws := dialWS(t, addr)
		defer ws.Close()
		sent, i := 0, uint32(0)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) { // until the server stops reading and drops us
			if err := ws.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := ws.WriteMessage(websocket.TextMessage, getAccountBatch(i, 100)); err != nil {
				t.Logf("write failed after %d calls: %v", sent, err)
				break
			}
			sent, i = sent+100, i+100
		}
		waitRefused(t, seq, "ws_not_reading", 1)
		t.Logf("a client that never read sent %d rollup_getAccount(i, true) calls before it was dropped", sent)
		checkRSS(t, seq.Pid())
	})

	t.Run("slow connections", func(t *testing.T) {
		childHeld, childFailed := startSlowConnsChild(t, addr, slowConnsTotal/2)
		mine, failed := holdSlowConns(t, addr, slowConnsTotal-slowConnsTotal/2)
		defer func() {
			for _, c := range mine {
				if err := c.Close(); err != nil {
					t.Error(err)
				}
			}
		}()
		held := len(mine) + childHeld
		t.Logf("%d slow connections from 127.0.0.1 opened (%d by a child process), %d dials failed", held, childHeld, failed+childFailed)
		if held+failed+childFailed != slowConnsTotal {
			t.Fatalf("%d held + %d failed dials, want %d attempts", held, failed+childFailed, slowConnsTotal)
		}
		// A fresh client from another address is served while they are held.
		fresh := freshClient(t, addr, "127.0.0.2")
		defer fresh.Close()
		var st map[string]any
		if err := fresh.Call(&st, "rollup_getStatus", nil); err != nil || st["head"] == nil {
			t.Fatalf("fresh client during the flood: %v %v", err, st)
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", seq.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		metrics := seq.get(t, "/metrics")
		open, _ := metricValue(metrics, "pqsequencer_rpc_connections")
		perIP, _ := metricValue(metrics, `pqsequencer_rpc_refused_total{reason="conns_per_ip"}`)
		t.Logf("sequencer: %d fds, %v connections open, %v refused per IP", len(fds), open, perIP)
		if len(fds) > 400 || open > 40 || int(perIP) < held-40 {
			t.Fatalf("%d fds, %v connections open, %v refused as over the per-IP cap, of %d", len(fds), open, perIP, held)
		}
		// The held ones time out (-rpc-read-header-timeout 2s): the slots come back.
		proctest.WaitFor(t, "slow connections closed by the server", 20*time.Second, func() bool {
			v, _ := metricValue(seq.get(t, "/metrics"), "pqsequencer_rpc_connections")
			return v <= 2
		})
		checkRSS(t, seq.Pid())
	})
}

// getAccountBatch is a JSON-RPC batch of n rollup_getAccount(i, true) calls from index from.
func getAccountBatch(from uint32, n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"rollup_getAccount","params":[%d,true]}`, i, (from+uint32(i))%1024)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func dialWS(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return ws
}

func waitRefused(t *testing.T, seq *daemon, reason string, atLeast float64) {
	t.Helper()
	series := fmt.Sprintf(`pqsequencer_rpc_refused_total{reason=%q}`, reason)
	proctest.WaitFor(t, series, 30*time.Second, func() bool {
		v, _ := metricValue(seq.get(t, "/metrics"), series)
		return v >= atLeast
	})
}

// checkRSS fails the test if the process's peak resident set (VmHWM) reached the gate's limit.
func checkRSS(t *testing.T, pid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	kb := map[string]int{}
	for l := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(l, ":"); ok && (k == "VmHWM" || k == "VmRSS") {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			kb[k] = n
		}
	}
	t.Logf("sequencer VmHWM %d MB, VmRSS %d MB", kb["VmHWM"]>>10, kb["VmRSS"]>>10)
	if kb["VmHWM"] == 0 || kb["VmHWM"] >= rssLimitKB {
		t.Fatalf("sequencer peak RSS %d kB, limit %d kB", kb["VmHWM"], rssLimitKB)
	}
}

// startSlowConnsChild runs this test binary as a child holding n slow connections to addr, and
// returns once it holds them: how many it opened and how many dials failed. The child lets go
// when the test ends (its standard input closes).
func startSlowConnsChild(t *testing.T, addr string, n int) (held, failed int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSequencerRPCLimits$", "-test.count", "1", "-test.timeout", "5m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", slowConnsEnv, addr, n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stdin.Close(); err != nil {
			t.Error(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("slow-connection child: %v", err)
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "holding ") {
				line <- sc.Text()
			}
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			t.Fatal("the slow-connection child ended without holding its connections")
		}
		if _, err := fmt.Sscanf(l, "holding %d failed %d", &held, &failed); err != nil {
			t.Fatalf("slow-connection child said %q: %v", l, err)
		}
		return held, failed
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow-connection child did not open its connections within 2 minutes")
	}
	return 0, 0
}

// slowConnsChild is the child of startSlowConnsChild: it holds the connections its environment
// names, says how many, and lets go when its standard input closes.
func slowConnsChild(t *testing.T, spec string) {
	var addr string
	var n int
	if _, err := fmt.Sscanf(spec, "%s %d", &addr, &n); err != nil {
		t.Fatalf("%s=%q: %v", slowConnsEnv, spec, err)
	}
	conns, failed := holdSlowConns(t, addr, n)
	fmt.Printf("holding %d failed %d\n", len(conns), failed)
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Error(err)
	}
	for _, c := range conns {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}

// holdSlowConns opens n connections to addr that each send half a request header and stop.
func holdSlowConns(t *testing.T, addr string, n int) ([]net.Conn, int) {
	var (
		mu     sync.Mutex
		conns  []net.Conn
		failed atomic.Int64
		first  atomic.Value // the first dial error, for the log
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err == nil {
					_, err = c.Write([]byte("POST / HTTP/1.1\r\nHost: seq\r\n")) // refused ones may be reset already
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		t.Logf("first failed dial: %v (the server resets a connection over its caps, sometimes before the dial completes)", e)
	}
	return conns, int(failed.Load())
}

// freshClient is a JSON-RPC client over HTTP whose connections come from source address src.
func freshClient(t *testing.T, addr, src string) *rpc.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	c, err := rpc.DialOptions(context.Background(), "http://"+addr, rpc.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
