package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// Watch conditions (guardian watch --on).
const (
	condFraud      = "fraud"       // a fraud proof against the rollup was upheld on L1
	condInvariant  = "invariant"   // L1 reports the escrow invariant broken, or halted on one
	condDelayQueue = "delay-queue" // more withdrawals wait in the governor's delay queue than --max-delayed
)

// watcher pauses a rollup with the guardian keys it holds when a condition is seen.
type watcher struct {
	a          *app
	c          *l1client.Client
	rollupID   uint64
	keys       []*pqkey.PrivateKey
	payer      *pqkey.PrivateKey
	on         []string
	maxDelayed uint64
	log        *slog.Logger
}

// onEvent is the reason to pause on an event of the L1 log, or "".
func (w *watcher) onEvent(ev l1api.Event) string {
	if ev.Kind == l1api.EventChallengeUpheld && ev.RollupID == w.rollupID && slices.Contains(w.on, condFraud) {
		return fmt.Sprintf("fraud proof upheld against batch %d of rollup %d at L1 height %d", ev.Number, ev.RollupID, ev.Height)
	}
	return ""
}

// onState is the reason to pause on the rollup's state and the node's status, or "".
func (w *watcher) onState(r *l1api.Rollup, halted string) string {
	if slices.Contains(w.on, condInvariant) {
		if r.Paid > r.Deposited || r.Escrow != r.Deposited-r.Paid {
			return fmt.Sprintf("escrow invariant broken on rollup %d: escrow %d, deposited %d, paid %d", r.ID, r.Escrow, r.Deposited, r.Paid)
		}
		if strings.Contains(halted, "invariant") {
			return "the L1 node halted: " + halted
		}
	}
	if slices.Contains(w.on, condDelayQueue) && r.DelayedPending > w.maxDelayed {
		return fmt.Sprintf("%d withdrawals wait in the delay queue of rollup %d (%d in all), above --max-delayed %d", r.DelayedPending, r.ID, r.DelayedAmount, w.maxDelayed)
	}
	return ""
}

// pause signs a pause at the rollup's current guardian nonce with every held key and sends it,
// unless the rollup is paused already. It reports whether the rollup is paused afterwards.
func (w *watcher) pause(ctx context.Context, reason string) (bool, error) {
	r, err := w.c.Rollup(ctx, w.rollupID)
	if err != nil {
		return false, err
	}
	if r.Paused {
		w.log.Info("rollup already paused", "rollup", r.ID, "reason", reason)
		return true, nil
	}
	w.log.Warn("pausing the rollup", "rollup", r.ID, "reason", reason, "guardian_nonce", r.GuardianNonce)
	f, err := signAll(guardianAction{L1ChainID: w.a.cfg.l1ChainID, Rollup: r.ID, Action: "pause", Nonce: r.GuardianNonce}, w.keys)
	if err != nil {
		return false, err
	}
	if err := w.a.sendGuardian(ctx, w.c, w.payer, r, f, true); err != nil {
		return false, err
	}
	w.log.Warn("rollup paused", "rollup", r.ID, "reason", reason)
	return true, nil
}

// check refuses to start a watcher whose keys cannot pause: each must be a guardian of the
// rollup, and together at least its threshold.
func (w *watcher) check(r *l1api.Rollup) error {
	for _, k := range w.keys {
		if guardianIndex(r, k.Public().Bytes()) < 0 {
			return fmt.Errorf("key %s is not a guardian of rollup %d (pqwallet guardian status lists them)", k.Address().Hex(), r.ID)
		}
	}
	if uint64(len(w.keys)) < r.Config.GuardianThreshold {
		return fmt.Errorf("%d guardian keys held, rollup %d needs %d to pause: the watcher could not act", len(w.keys), r.ID, r.Config.GuardianThreshold)
	}
	return nil
}

// run follows the L1 event log from height from and polls the rollup every poll until ctx ends,
// pausing on the first condition seen (again after an unpause). With once it returns after the
// first pause.
func (w *watcher) run(ctx context.Context, from uint64, poll time.Duration, once bool) error {
	evs, err := w.c.Events(ctx, from)
	if err != nil {
		return err
	}
	defer evs.Close()
	reasons := make(chan string, 1)
	evErr := make(chan error, 1)
	go func() {
		for {
			ev, err := evs.Next()
			if err != nil {
				evErr <- err
				return
			}
			if reason := w.onEvent(ev); reason != "" {
				select {
				case reasons <- reason:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		var reason string
		select {
		case <-ctx.Done():
			return nil
		case err := <-evErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("L1 event log: %w", err)
		case reason = <-reasons:
		case <-t.C:
			r, err := w.c.Rollup(ctx, w.rollupID)
			if err != nil {
				w.log.Warn("reading the rollup", "rollup", w.rollupID, "err", err)
				continue
			}
			st, err := w.c.Status(ctx)
			if err != nil {
				w.log.Warn("reading the L1 status", "err", err)
				continue
			}
			if reason = w.onState(r, st.Halted); reason == "" || r.Paused {
				continue
			}
		}
		paused, err := w.pause(ctx, reason)
		if err != nil {
			w.log.Error("pause failed; retrying on the next condition", "rollup", w.rollupID, "reason", reason, "err", err)
			continue
		}
		if paused && once {
			return nil
		}
	}
}

func (a *app) guardianWatchCommand() *cobra.Command {
	var (
		kf         guardianKeyFlags
		l1Key      string
		on         []string
		maxDelayed uint64
		from       int64
		poll       time.Duration
		once       bool
	)
	cmd := &cobra.Command{
		Use:   "watch --guardian-key NAME... [--on fraud,invariant,delay-queue]",
		Short: "Daemon: pause the rollup on its own when a condition is seen (needs threshold guardian keys here)",
		Long: `Follow the L1 event log and the rollup's state and pause the rollup, with the guardian keys held
here (at least the threshold: checked at start), on the first condition of --on:
  fraud        a fraud proof against the rollup is upheld on L1 (event challenge_upheld)
  invariant    L1 reports escrow != deposited - paid for the rollup, or the node halted on an invariant
  delay-queue  more than --max-delayed withdrawals wait in the governor's delay queue
A pause already in place is left alone. It runs until interrupted (--exit-after-pause: until it
paused once). Unpausing is a deliberate act: guardian sign/combine/submit or guardian unpause.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, c := range on {
				if c != condFraud && c != condInvariant && c != condDelayQueue {
					return fmt.Errorf("--on %q: conditions are %s, %s and %s", c, condFraud, condInvariant, condDelayQueue)
				}
			}
			keys, err := a.guardianKeys(kf.keys, kf.shares)
			if err != nil {
				return err
			}
			payer, err := a.unlockDefaultL1(l1Key)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, err := a.l1Client(ctx, payer)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := a.rollup(ctx, c)
			if err != nil {
				return err
			}
			w := &watcher{a: a, c: c, rollupID: r.ID, keys: keys, payer: payer, on: on, maxDelayed: maxDelayed,
				log: slog.New(slog.NewTextHandler(a.errOut, nil)).With("component", "guardian-watch")}
			if err := w.check(r); err != nil {
				return err
			}
			start := uint64(from)
			if from < 0 {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				start = st.Height + 1
			}
			w.log.Info("watching", "rollup", r.ID, "on", strings.Join(on, ","), "from_height", start, "guardian_keys", len(keys),
				"threshold", r.Config.GuardianThreshold)
			if err := w.run(ctx, start, poll, once); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	kf.add(cmd)
	cmd.Flags().StringVar(&l1Key, "l1-key", "", "the L1 key paying the pause (default: the wallet's only L1 key)")
	cmd.Flags().StringSliceVar(&on, "on", []string{condFraud, condInvariant}, "conditions that pause: fraud, invariant, delay-queue")
	cmd.Flags().Uint64Var(&maxDelayed, "max-delayed", 10, "delay-queue: pause when more withdrawals than this wait")
	cmd.Flags().Int64Var(&from, "from-height", -1, "read the event log from this L1 height (default: the next block)")
	cmd.Flags().DurationVar(&poll, "poll", 2*time.Second, "how often the rollup's state is read")
	cmd.Flags().BoolVar(&once, "exit-after-pause", false, "exit once the rollup is paused (by this watcher or already)")
	return cmd
}
