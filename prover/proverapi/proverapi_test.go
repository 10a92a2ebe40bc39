package proverapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
	"github.com/pqbridge/pqbridge/prover/provertest"
)

const chainID = 9

// testKeys are provertest's dev keys of its tiny parameters.
func testKeys(t *testing.T) *prover.Keys { t.Helper(); return provertest.Keys(t, provertest.Params()) }

// testJobs returns jobs of n consecutive batches of p from genesis.
func testJobs(t *testing.T, p prover.Params, n int) []*prover.Job {
	t.Helper()
	return provertest.Jobs(t, p, chainID, n)
}

// startServer serves a Service of the test keys over HTTP; it returns a client of it.
func startServer(t *testing.T, cfg proverapi.ServerConfig, workers, queue int) (*proverapi.Server, *proverapi.Client) {
	t.Helper()
	k := testKeys(t)
	if cfg.Prover == nil {
		svc, err := prover.New(prover.Config{Keys: k, Workers: workers, QueueSize: queue})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Stop)
		cfg.Prover = svc
	}
	cfg.Keys = k
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = workers + queue
	}
	cfg.Workers = workers
	srv, err := proverapi.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	cl, err := proverapi.NewClient(proverapi.ClientConfig{URL: "http://" + srv.Addr().String(), RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return srv, cl
}

// TestProveOverHTTP proves real jobs through the API, concurrently, and verifies the proofs
// under the key /v1/info announces, which is the keys' KeyID (L1's vkHash).
func TestProveOverHTTP(t *testing.T) {
	k := testKeys(t)
	_, cl := startServer(t, proverapi.ServerConfig{}, 1, 4)
	ctx := context.Background()
	info, err := cl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := prover.VerifyingKeyID(k.VK)
	if err != nil {
		t.Fatal(err)
	}
	if info.Params != k.Params || info.KeyID != id || info.MaxJobBytes != proverapi.MaxJobBytes(k) || info.Workers != 1 {
		t.Fatalf("info %+v, want %v key %v", info, k.Params, id)
	}
	jobs := testJobs(t, k.Params, 3)
	results := make([]*prover.Result, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		b, err := prover.EncodeJob(job)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) > info.MaxJobBytes {
			t.Fatalf("job of %d bytes, the bound is %d", len(b), info.MaxJobBytes)
		}
		wg.Go(func() {
			res, err := cl.Prove(ctx, job)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	for i, res := range results {
		if res == nil {
			t.Fatalf("job %d: no result", i)
		}
		h := jobs[i].Commitment.Hash()
		if err := prover.Verify(info.VerifyingKey, h, res.Proof); err != nil || res.ID != jobs[i].ID || !res.CommitmentHash.Equal(&h) {
			t.Fatalf("job %s: result %s: %v", jobs[i].ID, res.ID, err)
		}
		// L1's check: the proof's bytes under the rollup's vkHash.
		raw, err := prover.MarshalProof(res.Proof)
		if err != nil {
			t.Fatal(err)
		}
		v := prover.NewVerifier()
		vk, _ := prover.VerifyingKeyBytes(k.VK)
		if _, err := v.Add(vk); err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(info.KeyID, h, raw); err != nil {
			t.Fatalf("job %s: L1's verifier: %v", jobs[i].ID, err)
		}
	}
}

// post sends body to the prove endpoint and returns the status and the decoded error.
func post(t *testing.T, url string, body io.Reader, contentLength int64) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+proverapi.PathProve, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = contentLength
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code, Error string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("status %d, body %q is not a JSON error", resp.StatusCode, b)
	}
	return resp.StatusCode, e.Code, e.Error
}

// TestRejections: what the server refuses, before any proving, with a status and a message
// that name the problem.
func TestRejections(t *testing.T) {
	k := testKeys(t)
	srv, _ := startServer(t, proverapi.ServerConfig{}, 1, 1)
	url := "http://" + srv.Addr().String()
	job := testJobs(t, k.Params, 1)[0]
	good, err := prover.EncodeJob(job)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := *job
	other.Params.Depth++
	otherParams, err := prover.EncodeJob(&other) // the witness is the same: refused for its parameters first
	if err != nil {
		t.Fatal(err)
	}
	max := proverapi.MaxJobBytes(k)
	huge := append(bytes.Repeat([]byte(" "), int(max)), good...) // valid JSON, too long
	for _, tc := range []struct {
		name   string
		body   []byte
		length int64 // Content-Length; -1: chunked (unknown)
		status int
		code   string
		want   string
	}{
		{"garbage", []byte("garbage"), 7, 400, proverapi.CodeBadJob, "decoding job: invalid character 'g'"},
		{"empty", nil, 0, 400, proverapi.CodeBadJob, "decoding job"},
		{"bad hex", reencode(func(m map[string]any) { m["witness"] = "zz" }), -1, 400, proverapi.CodeBadJob, "witness"},
		{"params out of range", reencode(func(m map[string]any) { m["depth"] = 99 }), -1, 400, proverapi.CodeBadJob, "tree depth 99 outside"},
		{"params not served", otherParams, -1, 422, proverapi.CodeWrongParams,
			fmt.Sprintf("is for %v; this prover serves %v", other.Params, k.Params)},
		{"witness for another commitment", reencode(func(m map[string]any) {
			m["commitment"].(map[string]any)["tx_count"] = 7
		}), -1, 422, proverapi.CodeNotProvable, "public input is not the commitment's hash"},
		{"too large, declared", huge, int64(len(huge)), 413, proverapi.CodeTooLarge, fmt.Sprintf("larger than %d bytes", max)},
		{"too large, chunked", huge, -1, 413, proverapi.CodeTooLarge, fmt.Sprintf("the most a job of %v takes", k.Params)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			length := tc.length
			if length == -1 {
				length = 0 // with a body reader of unknown size: chunked
			}
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.length == -1 {
				body = io.MultiReader(bytes.NewReader(tc.body)) // hides the length from net/http
			}
			status, code, msg := post(t, url, body, length)
			if status != tc.status || code != tc.code || !strings.Contains(msg, tc.want) {
				t.Fatalf("got %d %s %q, want %d %s %q", status, code, msg, tc.status, tc.code, tc.want)
			}
		})
	}
	// Unknown paths and methods answer in JSON too, or with the mux's 405.
	resp, err := http.Get(url + "/v2/prove")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	resp, err = http.Get(url + proverapi.PathProve)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d", proverapi.PathProve, resp.StatusCode)
	}
}

// blockingProver holds every job until released or until its context ends.
type blockingProver struct {
	started chan string
	release chan struct{}
}

func (b *blockingProver) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	b.started <- job.ID
	select {
	case <-b.release:
		return nil, fmt.Errorf("%w: held", prover.ErrStopped)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestBusyAndHangUp: a full server answers 503 busy at once (and the client retries such a
// refusal, then reports it); a client that hangs up cancels its job's context.
func TestBusyAndHangUp(t *testing.T) {
	k := testKeys(t)
	bp := &blockingProver{started: make(chan string, 4), release: make(chan struct{})}
	srv, cl := startServer(t, proverapi.ServerConfig{Prover: bp, MaxInFlight: 1}, 0, 0)
	job := testJobs(t, k.Params, 1)[0]
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := cl.Prove(ctx, job); first <- err }()
	<-bp.started

	_, err := cl.Prove(context.Background(), job)
	if e, ok := errors.AsType[*proverapi.Error](err); !ok || e.Status != http.StatusServiceUnavailable || e.Code != proverapi.CodeBusy {
		t.Fatalf("second job on a full server: %v", err)
	}
	status, code, _ := post(t, "http://"+srv.Addr().String(), bytes.NewReader([]byte("{}")), 2)
	if status != http.StatusServiceUnavailable || code != proverapi.CodeBusy {
		t.Fatalf("full server: %d %s", status, code)
	}

	cancel() // the client hangs up: the server's context for the job ends
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}
	// The slot is free again once the handler returns: the next job reaches the prover.
	done := make(chan error, 1)
	go func() { _, err := cl.Prove(context.Background(), job); done <- err }()
	select {
	case <-bp.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slot of the abandoned job was never freed")
	}
	close(bp.release)
	if err := <-done; err == nil || !strings.Contains(err.Error(), "503 stopped") {
		t.Fatalf("job refused by a stopping prover: %v", err)
	}
}

// TestClientChecksResults: a server whose proofs are not under the key it announces, or
// answers another job, is caught by the client.
func TestClientChecksResults(t *testing.T) {
	k := testKeys(t)
	jobs := testJobs(t, k.Params, 2)
	svc, err := prover.New(prover.Config{Keys: k})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	// A man in the middle swaps the job: the proof is valid, for the other batch.
	srv, err := proverapi.NewServer(proverapi.ServerConfig{Keys: k, MaxInFlight: 2, Prover: proverFunc(func(ctx context.Context, job *prover.Job) (*prover.Result, error) {
		res, err := svc.Prove(ctx, jobs[1])
		if err == nil {
			res.ID = job.ID
		}
		return res, err
	})})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	cl, err := proverapi.NewClient(proverapi.ClientConfig{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Prove(context.Background(), jobs[0]); err == nil || !strings.Contains(err.Error(), "the result is for another commitment") {
		t.Fatalf("swapped result: %v", err)
	}
	// Jobs for other parameters never leave the client.
	other := *jobs[0]
	other.Params.BatchSize++
	if _, err := cl.Prove(context.Background(), &other); !errors.Is(err, prover.ErrNotProvable) || !strings.Contains(err.Error(), "serves") {
		t.Fatalf("job for other parameters: %v", err)
	}
	// Bad URLs are refused up front.
	for _, u := range []string{"127.0.0.1:1", "ftp://x", "http://"} {
		if _, err := proverapi.NewClient(proverapi.ClientConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	// An unreachable server: Info retries, then reports the dial error.
	cl, err = proverapi.NewClient(proverapi.ClientConfig{URL: "http://127.0.0.1:1", Retries: 2, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Info(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable server: %v", err)
	}
}

type proverFunc func(ctx context.Context, job *prover.Job) (*prover.Result, error)

func (f proverFunc) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	return f(ctx, job)
}
