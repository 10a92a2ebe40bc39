package challenger_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// errorCount is a slog handler that counts records at Error level.
type errorCount struct{ n atomic.Int64 }

func (h *errorCount) Enabled(context.Context, slog.Level) bool { return true }
func (h *errorCount) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h *errorCount) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorCount) WithGroup(string) slog.Handler      { return h }

// TestStorageFaultsChallenger (issue 12): the challenger's disk fills up, or its syncs fail,
// just as a fraud is posted. Its write of the block fails: no panic, the error names the storage
// fault and its cause, readiness is false with the fault, it is logged once however often the
// loop tries again, and the challenge is not sent (it was not stored: sending it would risk a
// second transaction on its nonce after the restart). Start's loop halts (Done). Once the fault
// clears, the challenger opened again on its directory has lost nothing it agreed with and gets
// the fraud upheld within the window.
func TestStorageFaultsChallenger(t *testing.T) {
	for _, tc := range []struct {
		fault storefault.Fault
		cause string
		start bool // run Start's loop through the fault (else Step)
	}{
		{storefault.Full, "no space left on device", false},
		{storefault.SyncFails, "input/output error", true},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			w := fundedWorld(t)
			fs := storefault.New(nil)
			dir := filepath.Join(t.TempDir(), "challenger")
			logs := &errorCount{}
			open := func() *challenger.Challenger {
				ch, err := challenger.New(w.ctx, challenger.Config{Dir: dir, FS: fs, Source: nodesource.New(w.node),
					Key: l1Key(3), L1ChainID: l1ChainID, RollupID: rollupID, Logger: slog.New(logs)})
				if err != nil {
					t.Fatal(err)
				}
				return ch
			}
			ch := open()
			if err := ch.Step(w.ctx); err != nil {
				t.Fatal(err)
			}
			agreed := ch.Status().Agreed
			if agreed != 1 {
				t.Fatalf("agreed batch %d before the fault, want 1", agreed)
			}
			fs.Set(tc.fault)
			honest := w.honestTxs()
			bad := fraudKinds[len(fraudKinds)-1].lie(w, honest) // middle-root
			w.post(bad)
			w.blockOK()
			var err error
			if tc.start {
				if err := ch.Start(w.ctx); err != nil {
					t.Fatal(err)
				}
				select {
				case <-ch.Done():
				case <-time.After(30 * time.Second):
					t.Fatal("the loop did not halt on the storage fault")
				}
				err = ch.Ready()
			} else {
				for range 3 {
					if err = ch.Step(w.ctx); err == nil {
						t.Fatalf("a step with a failing disk succeeded: %+v, %d injected", ch.Status(), fs.Injected())
					}
				}
			}
			st := ch.Status()
			if !errors.Is(st.Fault, pebbleguard.ErrFault) || !strings.Contains(err.Error(), "storage fault") ||
				!strings.Contains(err.Error(), tc.cause) || ch.Ready() == nil || !st.Stuck() {
				t.Fatalf("after the fault: err %v, status %+v, ready %v", err, st, ch.Ready())
			}
			if n := logs.n.Load(); n != 1 {
				t.Fatalf("the storage fault logged %d times at error level, want once", n)
			}
			if st.Challenges != 0 {
				t.Fatalf("a challenge not stored was sent: %+v", st)
			}
			r := w.blockOK()
			for _, e := range r.Events {
				if e.Kind == chain.EventChallengeUpheld {
					t.Fatalf("challenge upheld while the challenger's disk failed: %+v", e)
				}
			}
			fs.Set(storefault.None)
			if err := ch.Stop(); err != nil {
				t.Logf("closing the store after the fault: %v", err)
			}
			ch = open()
			t.Cleanup(func() { ch.Stop() })
			if st := ch.Status(); st.Agreed != agreed || ch.Ready() != nil {
				t.Fatalf("reopened after the fault: %+v, ready %v", st, ch.Ready())
			}
			w.challengeRound("middle-root", bad, honest, func() *challenger.Challenger { return ch }, 3, func() {
				if err := ch.Step(w.ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
