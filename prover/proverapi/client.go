package proverapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pqbridge/pqbridge/prover"
)

// Client defaults.
const (
	DefaultInfoTimeout  = 10 * time.Second
	DefaultRetries      = 3
	DefaultRetryBackoff = 250 * time.Millisecond
	dialTimeout         = 5 * time.Second
)

// ClientConfig configures a Client.
type ClientConfig struct {
	URL  string       // the server's base URL, e.g. http://127.0.0.1:8650
	HTTP *http.Client // nil: one with a dial timeout and no overall timeout (contexts bound calls)
	// InfoTimeout bounds one GET /v1/info [DefaultInfoTimeout]; ProveTimeout one POST
	// /v1/prove, when the caller's context does not end sooner [DefaultProveTimeout].
	InfoTimeout  time.Duration
	ProveTimeout time.Duration
	// Retries is how many times a call is retried [DefaultRetries; negative: never], after
	// RetryBackoff, doubling. Info is retried on any failure; Prove only when the server did no
	// work: the connection was refused, or it answered 503 (busy or stopping). A proof that
	// failed or timed out is not retried: the caller (the settlement engine) decides.
	Retries      int
	RetryBackoff time.Duration
	// Token is the server's bearer token (ServerConfig.Token), sent with every request if set.
	Token string
}

// Client is the prover API's Go client. It checks every result: the job's ID, the job's
// commitment hash, and the proof against the verifying key the prover announced (Info, fetched
// before the first Prove), so a prover with other keys than it claims never gets a proof to L1.
// It is safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	base *url.URL

	mu   sync.Mutex
	info *Info // the last Info
}

// NewClient returns a client of the server at cfg.URL; it does not connect.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proverapi: URL %q: want http://HOST:PORT or https://HOST:PORT", cfg.URL)
	}
	if cfg.HTTP == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
		cfg.HTTP = &http.Client{Transport: t}
	}
	if cfg.InfoTimeout <= 0 {
		cfg.InfoTimeout = DefaultInfoTimeout
	}
	if cfg.ProveTimeout <= 0 {
		cfg.ProveTimeout = DefaultProveTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	return &Client{cfg: cfg, base: u}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// Info asks the server what it proves; the client checks later proofs against its key.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var info *Info
	err := c.retry(ctx, func() (bool, error) {
		ictx, cancel := context.WithTimeout(ctx, c.cfg.InfoTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ictx, http.MethodGet, c.base.String()+PathInfo, nil)
		if err != nil {
			return false, err
		}
		body, err := c.do(req, maxInfoBytes)
		if err != nil {
			return true, err // a read: always safe to repeat
		}
		var ij infoJSON
		if err := json.Unmarshal(body, &ij); err != nil {
			return false, fmt.Errorf("proverapi: info from %s: %w", c.base, err)
		}
		info, err = ij.parse()
		return false, err
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.info = info
	c.mu.Unlock()
	return info, nil
}

// HasVK reports whether the prover, as its last Info said, holds the key set of id (false
// before the first Info).
func (c *Client) HasVK(id prover.KeyID) bool {
	c.mu.Lock()
	info := c.info
	c.mu.Unlock()
	if info == nil {
		return false
	}
	_, ok := info.VerifyingKeyOf(id)
	return ok
}

// Prove sends the job and returns its checked result. It fetches Info first if it has none.
func (c *Client) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	c.mu.Lock()
	info := c.info
	c.mu.Unlock()
	if info == nil {
		var err error
		if info, err = c.Info(ctx); err != nil {
			return nil, err
		}
	}
	if job.Params != info.Params {
		return nil, fmt.Errorf("%w: job %s is for %v; the prover at %s serves %v", prover.ErrNotProvable, job.ID, job.Params, c.base, info.Params)
	}
	vk, ok := info.VerifyingKeyOf(job.VK)
	if !ok {
		return nil, fmt.Errorf("%w: job %s is for verifying key %v; the prover at %s holds %v", prover.ErrNotProvable, job.ID, job.VK, c.base, info.KeyIDs)
	}
	b, err := prover.EncodeJob(job)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProveTimeout)
	defer cancel()
	var res *prover.Result
	err = c.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+PathProve, bytes.NewReader(b))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/json")
		body, err := c.do(req, maxResultBytes)
		if err != nil {
			return notStarted(err), err
		}
		res, err = prover.DecodeResult(body)
		return false, err
	})
	if err != nil {
		return nil, fmt.Errorf("proverapi: job %s: %w", job.ID, err)
	}
	h := job.Commitment.Hash()
	switch {
	case res.ID != job.ID:
		return nil, fmt.Errorf("proverapi: asked for job %s, the prover answered job %s", job.ID, res.ID)
	case !res.CommitmentHash.Equal(&h):
		return nil, fmt.Errorf("proverapi: job %s: the result is for another commitment", job.ID)
	}
	if err := prover.Verify(vk, h, res.Proof); err != nil {
		return nil, fmt.Errorf("proverapi: job %s: the proof does not verify under the key the prover announced (%v): %w", job.ID, job.VK, err)
	}
	return res, nil
}

// do sends req and returns the body of a 200 reply, or an *Error for an API error.
func (c *Client) do(req *http.Request, limit int64) ([]byte, error) {
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		var ej errorJSON
		if json.Unmarshal(b, &ej) != nil || ej.Code == "" {
			ej = errorJSON{Code: http.StatusText(resp.StatusCode), Error: strings.TrimSpace(string(b))}
		}
		return nil, &Error{Status: resp.StatusCode, Code: ej.Code, Message: ej.Error}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("proverapi: reply from %s larger than %d bytes", c.base, limit)
	}
	return b, nil
}

// notStarted reports whether a failed request certainly did no work at the server: the
// connection was never made, or the server answered 503.
func notStarted(err error) bool {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Status == http.StatusServiceUnavailable
	}
	if e, ok := errors.AsType[*net.OpError](err); ok {
		return e.Op == "dial"
	}
	return false
}

// retry runs call until it succeeds, fails without asking for a retry, or has been retried
// Retries times; the waits end with ctx.
func (c *Client) retry(ctx context.Context, call func() (retryable bool, err error)) error {
	wait := c.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		retryable, err := call()
		if err == nil || !retryable || attempt >= c.cfg.Retries || ctx.Err() != nil {
			return err
		}
		if e, ok := errors.AsType[*Error](err); ok && e.Status < 500 {
			return err // the request itself is wrong: asking again changes nothing
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
