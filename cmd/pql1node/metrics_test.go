package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l2"
)

// TestMetricsWindows checks the rollup clocks the alert rules read: the windows from the
// rollup's config, the blocks since the last finalization (registration here), and the
// forced-inclusion slack of the oldest unconsumed deposit, absent before the first deposit.
func TestMetricsWindows(t *testing.T) {
	k, user := testKey(0), testKey(1)
	g := chain.Genesis{ChainID: 3, Validator: k.Public().Bytes(), Alloc: []chain.Alloc{{Address: user.Address(), Balance: 1 << 20}}}
	n, err := node.New(node.Config{Dir: t.TempDir(), Genesis: g, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	cfg := chain.RollupConfig{L2ChainID: 9, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10, ExodusTimeout: 100,
		Sequencers: []common.Address{k.Address()}}
	if err := registerRollups(n, k, []chain.RollupConfig{cfg}); err != nil {
		t.Fatal(err)
	}
	produce := func() {
		t.Helper()
		r, err := n.ProduceBlock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range r.Receipts {
			if !rc.OK {
				t.Fatalf("receipt %+v", rc)
			}
		}
	}
	produce() // block 1: the rollup registered
	m := &metrics{n: n, log: slog.New(slog.DiscardHandler)}
	gather := func() map[string]float64 {
		t.Helper()
		reg := prometheus.NewRegistry()
		reg.MustRegister(obs.Snapshot(func(e *obs.Emitter) {
			st, err := n.Status()
			if err != nil {
				t.Error(err)
				return
			}
			r, err := n.Rollup(1)
			if err != nil {
				t.Error(err)
				return
			}
			m.windows(e, st.Height, r, "1")
		}))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			for _, mt := range mf.GetMetric() {
				if len(mt.GetLabel()) != 1 || mt.GetLabel()[0].GetValue() != "1" {
					t.Errorf("%s: labels %v, want rollup=1", mf.GetName(), mt.GetLabel())
				}
				out[mf.GetName()] = mt.GetGauge().GetValue()
			}
		}
		return out
	}
	got := gather()
	if got["pql1node_rollup_forced_inclusion_window_blocks"] != 10 || got["pql1node_rollup_exodus_timeout_blocks"] != 100 {
		t.Errorf("windows %v, want forced inclusion 10, exodus 100", got)
	}
	if _, ok := got["pql1node_rollup_deposit_deadline_slack_blocks"]; ok {
		t.Errorf("deposit slack exported without a deposit: %v", got)
	}
	l2k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	pk := l2k.Public()
	raw, err := chain.SignTx(user, chain.TxDeposit, 3, 0, &chain.Deposit{RollupID: 1, Amount: 1000, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.SubmitTx(raw); err != nil {
		t.Fatal(err)
	}
	produce() // block 2: the deposit queued, its deadline 2 + 10
	produce()
	produce() // head 4: 8 blocks left
	got = gather()
	if v, ok := got["pql1node_rollup_deposit_deadline_slack_blocks"]; !ok || v != 8 {
		t.Errorf("deposit slack %v (exported %v), want 8", v, ok)
	}
	r, err := n.Rollup(1)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(4 - r.FinalHeight); got["pql1node_rollup_blocks_since_final"] != want || want < 3 {
		t.Errorf("blocks since final %v, want %v (final height %d, head 4)", got["pql1node_rollup_blocks_since_final"], want, r.FinalHeight)
	}
}
