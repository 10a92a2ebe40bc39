package settlement

import "github.com/pqbridge/pqbridge/l2/sequencer"

// recentFinal is how many pruned (final) batches Status still lists, from memory: a bound, so
// that memory stays O(pending batches).
const recentFinal = 256

// view is the engine's published status: an immutable snapshot a step rebuilds and swaps in
// (Engine.view), so that Status, BlockSettlement and metrics never wait for a step.
type view struct {
	last   FinalSummary
	recent []BatchStatus // the last pruned batches, oldest first (recentStatus: at most recentFinal)
	recs   []*record     // the batches not final, oldest first; a record is never changed once published
}

// publish swaps in a new view of the working set; fin, if not nil, is a batch just pruned.
func (e *Engine) publish(fin *record) {
	old := e.view.Load()
	v := &view{last: e.last, recs: append([]*record(nil), e.recs...)}
	if old != nil {
		v.recent = old.recent
	}
	if fin != nil {
		// Appended in place: an older view's slice never reaches the new element (one writer,
		// each view derived from the latest), and the kept tail is copied once per recentFinal.
		r := v.recent
		if len(r) >= 2*recentFinal {
			r = append(make([]BatchStatus, 0, 2*recentFinal), r[len(r)-recentFinal+1:]...)
		}
		v.recent = append(r, fin.status())
	}
	e.view.Store(v)
	if p, ok := e.cfg.Blocks.(snapshotPinner); ok && e.last.EndBlock > 0 {
		p.KeepSnapshotAtOrBelow(e.last.EndBlock - 1) // the state at the oldest pending batch's start
	}
}

// snapshotPinner is the sequencer's snapshot retention as the engine steers it: the state at the
// start of the oldest batch not final must stay cheap to rebuild (PreStates, ReferenceState).
type snapshotPinner interface{ KeepSnapshotAtOrBelow(block uint64) }

// recentStatus is v's last (at most recentFinal) pruned batches.
func (v *view) recentStatus() []BatchStatus {
	if n := len(v.recent); n > recentFinal {
		return v.recent[n-recentFinal:]
	}
	return v.recent
}

func (r *record) status() BatchStatus {
	return BatchStatus{Number: r.Number, State: State(r.State), Mode: Mode(r.Mode), Start: Position{r.StartBlock, r.StartOffset},
		End: Position{r.EndBlock, r.EndOffset}, TxCount: r.Commitment.TxCount, Reverts: r.Reverts, Rejects: r.Rejects,
		LastError: r.LastError, FaultPosted: r.FaultPosted}
}

// Status returns the status of the batches not final and of the last (at most 256) final ones
// this process saw, oldest first: records of final batches are pruned (LastFinal summarises
// them). It reads the published view: it never waits for a step (which may be waiting on L1 or
// the prover).
func (e *Engine) Status() []BatchStatus {
	v := e.view.Load()
	recent := v.recentStatus()
	out := append(make([]BatchStatus, 0, len(recent)+len(v.recs)), recent...)
	for _, r := range v.recs {
		out = append(out, r.status())
	}
	return out
}

// LastFinal is the summary of the final batches (their records are pruned). It never waits
// for a step.
func (e *Engine) LastFinal() FinalSummary { return e.view.Load().last }

// BlockSettlement is the settlement of L2 block n for the sequencer's API: "final" once every
// batch holding it is final, "committed" once they are all accepted by the target, else "soft";
// with the first and last of those batches once committed (0 for a block final in a batch
// pruned before the last 256 final ones or before a restart). Like Status, it never waits for a
// step.
func (e *Engine) BlockSettlement(n uint64) sequencer.BlockSettlement {
	v := e.view.Load()
	out := sequencer.BlockSettlement{Status: "final"}
	held := func(number uint64, st State, start, end Position) bool {
		last := end.Block
		if end.Offset == 0 {
			last--
		}
		if start.Block > n || last < n {
			return true
		}
		if out.FirstBatch == 0 {
			out.FirstBatch = number
		}
		out.LastBatch = number
		switch st {
		case StateBuilt, StatePosted:
			return false
		case StateInWindow, StateProven:
			out.Status = "committed"
		}
		return true
	}
	for _, b := range v.recentStatus() {
		held(b.Number, b.State, b.Start, b.End)
	}
	for _, r := range v.recs {
		if !held(r.Number, State(r.State), Position{r.StartBlock, r.StartOffset}, Position{r.EndBlock, r.EndOffset}) {
			return sequencer.BlockSettlement{Status: "soft"}
		}
	}
	end := v.last.End()
	finalBlock := end.Block - 1 // the last block wholly in final batches
	if out.FirstBatch == 0 {
		if v.last.Number > 0 && n <= finalBlock {
			return sequencer.BlockSettlement{Status: "final"}
		}
		return sequencer.BlockSettlement{Status: "soft"}
	}
	if out.Status == "final" && n > finalBlock {
		return sequencer.BlockSettlement{Status: "soft"} // its rest is not in a batch yet
	}
	return out
}

// CrossCheck is the asynchronous cross-check's progress (On false: Config.NoCrossCheck). It
// never waits for a step or a check.
func (e *Engine) CrossCheck() CrossCheckStatus {
	if e.check == nil {
		return CrossCheckStatus{}
	}
	return e.check.status()
}

// ReferenceTxs counts the transactions the engine executed with the Go reference: the
// cross-check's (CrossCheckStatus.Executed) and fault injection's. The Prover's witness comes
// from Config.PreStates (the core in a daemon), so a validity run with the cross-check off keeps
// it at 0.
func (e *Engine) ReferenceTxs() uint64 {
	return e.refTxs.Load() + e.CrossCheck().Executed
}
