package quicrpc

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// The Ed25519 envelope baseline: same envelope, framing, binding and checks, with Ed25519ctx
// (the pqkey context as the RFC 8032 context) in place of ML-DSA-65. Benchmarks only.

type edPublic ed25519.PublicKey

func (p edPublic) Verify(ctx pqkey.Context, chainID, nonce uint64, payload, sig []byte) error {
	err := ed25519.VerifyWithOptions(ed25519.PublicKey(p), edMessage(chainID, nonce, payload), sig, &ed25519.Options{Context: string(ctx)})
	if err != nil {
		return pqkey.ErrBadSignature
	}
	return nil
}
func (p edPublic) Bytes() []byte { return p }
func (p edPublic) Address() common.Address {
	return common.BytesToAddress(ethcrypto.Keccak256(p)[12:])
}

type edSigner ed25519.PrivateKey

func (k edSigner) Sign(ctx pqkey.Context, chainID, nonce uint64, payload []byte) ([]byte, error) {
	return ed25519.PrivateKey(k).Sign(nil, edMessage(chainID, nonce, payload), &ed25519.Options{Hash: crypto.Hash(0), Context: string(ctx)})
}
func (k edSigner) publicKey() verifier {
	return edPublic(ed25519.PrivateKey(k).Public().(ed25519.PublicKey))
}

func edMessage(chainID, nonce uint64, payload []byte) []byte {
	return append(fmt.Appendf(nil, "pqbridge%016x%016x", chainID, nonce), payload...)
}

var ed25519Scheme = &scheme{
	publicKeySize: ed25519.PublicKeySize,
	signatureSize: ed25519.SignatureSize,
	parse:         func(b []byte) (verifier, error) { return edPublic(b), nil },
}

func edKey(b byte) edSigner {
	return edSigner(ed25519.NewKeyFromSeed(append(make([]byte, 31), b)))
}

type benchScheme struct {
	name      string
	server    func(*ServerConfig)
	newClient func(b *testing.B, srv *Server, i int) *Client
}

var benchSchemes = []benchScheme{
	{
		name:   "ML-DSA-65",
		server: func(*ServerConfig) {},
		newClient: func(b *testing.B, srv *Server, i int) *Client {
			return dial(b, srv, testKey(byte(10+i)))
		},
	},
	{
		name: "Ed25519",
		server: func(c *ServerConfig) {
			c.signer, c.scheme = edKey(1), ed25519Scheme
		},
		newClient: func(b *testing.B, srv *Server, i int) *Client {
			c, err := Dial(testCtx(b), srv.Addr().String(), ClientConfig{
				ChainID: testChainID, signer: edKey(byte(10 + i)), validator: edKey(1).publicKey(), scheme: ed25519Scheme,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			return c
		},
	},
}

// settlePayload stands for a settlement message: a commitment and its metadata.
var settlePayload = make([]byte, 512)

func benchServer(b *testing.B, sch benchScheme) *Server {
	srv, _ := startServer(b, func(c *ServerConfig) {
		c.RequestsPerSecond, c.RequestBurst = 1e9, 1e9 // measure the transport, not the limiter
		sch.server(c)
	})
	return srv
}

// BenchmarkSettleRoundTrip: one client, one signed request → signed response at a time over
// loopback QUIC; reports the latency distribution.
func BenchmarkSettleRoundTrip(b *testing.B) {
	for _, sch := range benchSchemes {
		b.Run(sch.name, func(b *testing.B) {
			srv := benchServer(b, sch)
			c := sch.newClient(b, srv, 0)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if _, err := c.Call(ctx, "echo", settlePayload); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkSettleThroughput: several clients, each with several calls in flight; reports
// calls/s and signed messages/s (a call is two signed messages: request and response).
func BenchmarkSettleThroughput(b *testing.B) {
	const clients, streamsPerClient = 4, 8
	for _, sch := range benchSchemes {
		b.Run(sch.name, func(b *testing.B) {
			srv := benchServer(b, sch)
			cs := make([]*Client, clients)
			for i := range cs {
				cs[i] = sch.newClient(b, srv, i)
			}
			ctx := context.Background()
			var next atomic.Int64
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := range clients * streamsPerClient {
				c := cs[i%clients]
				wg.Go(func() {
					var mine []time.Duration
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, err := c.Call(ctx, "echo", settlePayload); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			calls := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(calls, "calls/s")
			b.ReportMetric(2*calls, "signed-msgs/s")
			reportLatency(b, lat)
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
