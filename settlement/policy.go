package settlement

import (
	"errors"
	"fmt"
)

// ModePolicy chooses the mode of each batch.
type ModePolicy uint8

// Mode policies.
const (
	// PolicyAuto: validity when the Prover returns a proof within ProofDeadline, otherwise
	// optimistic.
	PolicyAuto ModePolicy = iota
	PolicyOptimistic
	// PolicyValidity: always validity; a batch waits for its proof, unless it can never have
	// one (a refund, prover.ErrNotProvable): then it is posted optimistically.
	PolicyValidity
)

var policyNames = [...]string{"auto", "optimistic", "validity"}

func (p ModePolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// SetPolicy changes the mode policy for every batch posted from now on (built batches not
// posted yet included: one waiting for its proof under PolicyValidity goes out optimistically
// after SetPolicy(PolicyOptimistic)). PolicyValidity needs a Prover. The change is not
// persisted: a restart returns to Config.Policy.
func (e *Engine) SetPolicy(p ModePolicy) error {
	switch p {
	case PolicyAuto, PolicyOptimistic:
	case PolicyValidity:
		if e.cfg.Prover == nil {
			return errors.New("settlement: PolicyValidity needs a Prover")
		}
	default:
		return fmt.Errorf("settlement: unknown policy %d", p)
	}
	e.policy.Store(uint32(p))
	e.Kick()
	return nil
}

// cutSize is the size at which a batch is cut: MaxOptimisticTxs (up to 4,096, what L1 takes in
// an optimistic batch) under PolicyOptimistic, else MaxValidityTxs (up to l2.MaxChunks chunks of
// the circuit's B, docs/protocol.md §8.8). A batch cut above l2.MaxChunks·B under
// PolicyOptimistic before a switch to PolicyValidity is not provable (prover.ErrNotProvable) and
// goes out optimistically.
func (e *Engine) cutSize() int {
	if e.Policy() == PolicyOptimistic {
		return e.cfg.MaxOptimisticTxs
	}
	return e.cfg.MaxValidityTxs
}

// Policy is the current mode policy.
func (e *Engine) Policy() ModePolicy { return ModePolicy(e.policy.Load()) }

// ErrFaultInjectionDisabled is InjectFault's refusal without Config.AllowFaultInjection.
var ErrFaultInjectionDisabled = errors.New("settlement: fault injection needs AllowFaultInjection (tests and devnets only)")

// InjectFault arms f for the first batch not yet posted (the next one the engine posts; f.Batch
// is ignored) and returns that batch's number: a built batch waiting to be posted, or else the
// next one to be cut. It is for devnets and tests: refused unless Config.AllowFaultInjection,
// refused while another fault waits to be posted, and not persisted (a restart forgets it). It
// does not wait for a step in progress (which may be on L1 or proving): it reads the published
// records, and a batch the step is posting at that moment is not chosen (if that posting fails,
// the batch goes out again honestly and the fault takes the next one). Like
// Config.Fault, the corruption goes into that batch's first posting only; it is posted
// optimistically whatever the policy, and a fault the batch gives no hold to is dropped (Fault).
func (e *Engine) InjectFault(f Fault) (uint64, error) {
	if !e.cfg.AllowFaultInjection {
		return 0, ErrFaultInjectionDisabled
	}
	switch {
	case f.Kind == FaultNone || int(f.Kind) >= len(faultNames):
		return 0, fmt.Errorf("settlement: cannot inject %s", f.Kind)
	case f.Kind == FaultAmountOverflow && f.Make == nil:
		return 0, fmt.Errorf("settlement: %s (%s) needs Fault.Make, a signed transaction beyond its sender's balance", f.Kind.Name(), f.Kind)
	}
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	if p := e.fault; p != nil {
		return 0, fmt.Errorf("settlement: a fault (%s) is already armed for batch %d", p.Kind.Name(), p.Batch)
	}
	v := e.view.Load() // what the step published: every batch it built, each posting it stored
	f.Batch = v.last.Number + uint64(len(v.recs)) + 1
	for _, r := range v.recs {
		if State(r.State) == StateBuilt && r.Number != e.posting {
			f.Batch = r.Number
			break
		}
	}
	e.fault = &f
	e.Kick()
	return f.Batch, nil
}
