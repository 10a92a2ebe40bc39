package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pqbridge/pqbridge/settlement"
)

// devnetAPI is the devnet_ JSON-RPC namespace, registered only with -devnet: run-time controls
// of the settlement engine for devnet demonstrations. It exists nowhere else, so on a
// production sequencer its methods are "method not found".
type devnetAPI struct {
	eng *settlement.Engine // nil without -l1
	log *slog.Logger
}

// InjectFaultResult is devnet_injectFault's result.
type InjectFaultResult struct {
	Batch       uint64 `json:"batch"`       // the batch whose next posting is corrupted
	Kind        string `json:"kind"`        // the short name
	Description string `json:"description"` // what the corruption is
}

// SetPolicyResult is devnet_setPolicy's result.
type SetPolicyResult struct {
	Policy   string `json:"policy"`
	Previous string `json:"previous"`
}

// invalidParams is a JSON-RPC "invalid params" error (-32602): an unknown name.
type invalidParams struct{ msg string }

func (e *invalidParams) Error() string  { return e.msg }
func (e *invalidParams) ErrorCode() int { return -32602 }

var errNoEngine = errors.New("no settlement engine: the sequencer runs without -l1")

// InjectFault is devnet_injectFault(kind): it corrupts the next batch the engine posts (the
// first not yet posted) with the fault of that short name (settlement.ParseFaultKind) and
// returns its number. The batch goes out optimistically, for the challenger to prove wrong.
func (a *devnetAPI) InjectFault(kind string) (*InjectFaultResult, error) {
	k, err := settlement.ParseFaultKind(kind)
	if err != nil {
		return nil, &invalidParams{fmt.Sprintf("unknown fault kind %q: want one of %s", kind, strings.Join(settlement.FaultKindNames(), ", "))}
	}
	switch k {
	case settlement.FaultAmountOverflow:
		return nil, fmt.Errorf("%s cannot be injected at run time: it needs a transfer signed by an L2 key the sequencer does not hold", kind)
	case settlement.FaultDepositSkipped:
		// L1 takes such a batch while the deposit is not overdue, and nothing reverts it (there is
		// no fraud to prove): the batches after it would never be accepted.
		return nil, fmt.Errorf("%s cannot be injected at run time: L1 accepts the batch until its deposit is overdue and nothing reverts it, which would stall settlement", kind)
	}
	if a.eng == nil {
		return nil, errNoEngine
	}
	n, err := a.eng.InjectFault(settlement.Fault{Kind: k})
	if err != nil {
		return nil, err
	}
	a.log.Info("devnet: fault armed", "batch", n, "fault", k.Name(), "what", k.String())
	return &InjectFaultResult{Batch: n, Kind: k.Name(), Description: k.String()}, nil
}

// SetPolicy is devnet_setPolicy(mode): "auto", "optimistic" or "validity" for the batches
// posted from now on (built ones waiting included); validity needs -prover.
func (a *devnetAPI) SetPolicy(mode string) (*SetPolicyResult, error) {
	p, ok := modes[mode]
	if !ok {
		return nil, &invalidParams{fmt.Sprintf("unknown mode %q: want auto, optimistic or validity", mode)}
	}
	if a.eng == nil {
		return nil, errNoEngine
	}
	prev := a.eng.Policy()
	if err := a.eng.SetPolicy(p); err != nil {
		if p == settlement.PolicyValidity {
			return nil, fmt.Errorf("validity needs a prover: start the sequencer with -prover URL")
		}
		return nil, err
	}
	a.log.Info("devnet: settlement policy set", "policy", p.String(), "previous", prev.String())
	return &SetPolicyResult{Policy: p.String(), Previous: prev.String()}, nil
}
