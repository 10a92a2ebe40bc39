package settlement

import "github.com/pqbridge/pqbridge/l2/sequencer"

// Status returns every batch's status, oldest first. It reads the published records: it never
// waits for a step (which may be waiting on L1 or the prover).
func (e *Engine) Status() []BatchStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]BatchStatus, len(e.recs))
	for i, r := range e.recs {
		out[i] = BatchStatus{Number: r.Number, State: State(r.State), Mode: Mode(r.Mode), Start: Position{r.StartBlock, r.StartOffset},
			End: Position{r.EndBlock, r.EndOffset}, TxCount: r.Commitment.TxCount, Reverts: r.Reverts, Rejects: r.Rejects,
			LastError: r.LastError, FaultPosted: r.FaultPosted}
	}
	return out
}

// BlockSettlement is the settlement of L2 block n for the sequencer's API: "final" once every
// batch holding it is final, "committed" once they are all accepted by the target, else "soft";
// with the first and last of those batches once committed. Like Status, it never waits for a
// step.
func (e *Engine) BlockSettlement(n uint64) sequencer.BlockSettlement {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := sequencer.BlockSettlement{Status: "final"}
	for _, r := range e.recs {
		end := r.EndBlock
		if r.EndOffset == 0 {
			end--
		}
		if r.StartBlock > n || end < n {
			continue
		}
		if out.FirstBatch == 0 {
			out.FirstBatch = r.Number
		}
		out.LastBatch = r.Number
		switch State(r.State) {
		case StateBuilt, StatePosted:
			return sequencer.BlockSettlement{Status: "soft"}
		case StateInWindow, StateProven:
			out.Status = "committed"
		}
	}
	if out.FirstBatch == 0 {
		return sequencer.BlockSettlement{Status: "soft"}
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
