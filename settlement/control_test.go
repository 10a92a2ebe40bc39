package settlement_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/settlement"
)

// noProof is a Prover that never proves: under PolicyValidity a batch waits for its proof.
type noProof struct{}

func (noProof) Prove(context.Context, *l2.Commitment, []byte, settlement.PreState) ([]byte, error) {
	return nil, errors.New("no proof here")
}

func (noProof) ChunkSize() int { return 1 }

// TestInjectFault: a fault injected at run time corrupts the next batch the engine posts — a
// built batch waiting for its proof, not a later one — which goes out optimistically and is
// proven fraudulent by the challenger; a second fault waits for the first to be posted; a
// fault the batch gives no hold to is dropped and the batch posted honestly. SetPolicy moves
// the engine between optimistic and validity for batches not yet posted.
func TestInjectFault(t *testing.T) {
	w := newWorld(t, settlement.Config{Policy: settlement.PolicyOptimistic, Prover: noProof{}})
	w.deposit(3, 1000)
	w.settle() // batch 1: the deposits, optimistic (the prover is not asked)
	if st := w.eng.Status(); len(st) != 1 || st[0].State == settlement.StateBuilt {
		t.Fatalf("batch 1: %+v", st)
	}

	if err := w.eng.SetPolicy(settlement.PolicyValidity); err != nil {
		t.Fatal(err)
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}),
		w.signed(l2.Tx{Type: l2.TxTransfer, From: 2, To: 0, Amount: 3}))
	w.settle() // batch 2 is built and waits for a proof that never comes
	if st := w.eng.Status(); len(st) != 2 || st[1].State != settlement.StateBuilt {
		t.Fatalf("batch 2 should wait for its proof: %+v", st)
	}

	n, err := w.eng.InjectFault(settlement.Fault{Kind: settlement.FaultFinalRoot, Batch: 99})
	if err != nil || n != 2 {
		t.Fatalf("InjectFault: batch %d, %v; want the waiting batch 2", n, err)
	}
	if _, err := w.eng.InjectFault(settlement.Fault{Kind: settlement.FaultWrongBalance}); err == nil ||
		!strings.Contains(err.Error(), "already armed for batch 2") {
		t.Fatalf("second fault while one is armed: %v", err)
	}
	w.settle() // batch 2 posted, corrupted, optimistically; the challenger sends its challenge
	st := w.eng.Status()[1]
	if !st.FaultPosted || st.Mode != settlement.ModeOptimistic || st.State == settlement.StateBuilt {
		t.Fatalf("batch 2 after the injection: %+v", st)
	}
	if cs := w.ch.Status(); cs.Challenges != 1 || cs.Challenged != 2 {
		t.Fatalf("challenger: %+v", cs)
	}
	w.settle() // the challenge is upheld and batch 2 reverted
	w.settle() // the engine sees the revert: batch 2 is built again and waits for its proof
	if st := w.eng.Status()[1]; st.State != settlement.StateBuilt || st.Reverts != 1 {
		t.Fatalf("batch 2 after the revert: %+v", st)
	}
	if err := w.eng.SetPolicy(settlement.PolicyOptimistic); err != nil {
		t.Fatal(err)
	}
	w.finalizeAll() // batch 2 honestly, optimistically, without a proof
	if st := w.eng.Status()[1]; st.Mode != settlement.ModeOptimistic || st.State != settlement.StateFinalized {
		t.Fatalf("batch 2: %+v", st)
	}
	if cs := w.ch.Status(); cs.Upheld != 1 || cs.Challenges != 1 {
		t.Fatalf("challenger: %+v", cs)
	}

	// The fault was posted: another may be armed, for the next batch to be cut. A middle-root
	// fault needs two transactions; the batch has one: dropped.
	n, err = w.eng.InjectFault(settlement.Fault{Kind: settlement.FaultMiddleRoot})
	if err != nil || n != 3 {
		t.Fatalf("InjectFault: batch %d, %v; want 3", n, err)
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 1}))
	w.settle()
	if st := w.eng.Status()[2]; st.FaultPosted || !strings.Contains(st.LastError, "fault middle-root dropped") {
		t.Fatalf("batch 3 with an inapplicable fault: %+v", st)
	}
	w.finalizeAll()
	if cs := w.ch.Status(); cs.Challenges != 1 {
		t.Fatalf("the honest batch 3 was challenged: %+v", cs)
	}
	if n, err := w.eng.InjectFault(settlement.Fault{Kind: settlement.FaultDataHash}); err != nil || n != 4 {
		t.Fatalf("after a dropped fault: batch %d, %v", n, err)
	}
}

// TestInjectFaultRefused: without AllowFaultInjection, and for kinds that cannot be injected
// at run time.
func TestInjectFaultRefused(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e, err := settlement.New(settlement.Config{FS: vfs.NewMem(), Depth: 4, MaxBatchTxs: 2, Blocks: noBlocks{},
			Target: noTarget{}, AllowFaultInjection: allow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Stop() })
		for _, tc := range []struct {
			f    settlement.Fault
			want string // when allowed
		}{
			{settlement.Fault{Kind: settlement.FaultWrongBalance}, ""},
			{settlement.Fault{Kind: settlement.FaultNone}, "cannot inject none"},
			{settlement.Fault{Kind: settlement.FaultDataHash + 1}, "cannot inject fault(10)"},
			{settlement.Fault{Kind: settlement.FaultAmountOverflow}, "amount-overflow (amount overflow) needs Fault.Make"},
		} {
			n, err := e.InjectFault(tc.f)
			switch {
			case !allow:
				if !errors.Is(err, settlement.ErrFaultInjectionDisabled) {
					t.Errorf("%s without AllowFaultInjection: %d, %v", tc.f.Kind, n, err)
				}
			case tc.want == "":
				if err != nil || n != 1 {
					t.Errorf("%s: %d, %v", tc.f.Kind, n, err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Errorf("%s: %d, %v; want %q", tc.f.Kind, n, err, tc.want)
			}
		}
		// Without a prover there is no validity; the other policies are always allowed.
		if err := e.SetPolicy(settlement.PolicyValidity); err == nil || !strings.Contains(err.Error(), "needs a Prover") {
			t.Errorf("validity without a prover: %v", err)
		}
		if err := e.SetPolicy(settlement.PolicyOptimistic); err != nil || e.Policy() != settlement.PolicyOptimistic {
			t.Errorf("optimistic: %v, policy %s", err, e.Policy())
		}
		if err := e.SetPolicy(settlement.ModePolicy(7)); err == nil {
			t.Error("unknown policy accepted")
		}
	}
}

func TestParseFaultKind(t *testing.T) {
	for _, name := range settlement.FaultKindNames() {
		k, err := settlement.ParseFaultKind(name)
		if err != nil || k.Name() != name || k == settlement.FaultNone {
			t.Errorf("%q: %v (%v)", name, k, err)
		}
	}
	if _, err := settlement.ParseFaultKind("none"); err == nil || !strings.Contains(err.Error(), "wrong-balance, invalid-signature") {
		t.Errorf("none: %v", err)
	}
}

// noBlocks and noTarget stand in for a sequencer and L1 the test never reaches.
type noBlocks struct{}

func (noBlocks) Head() sequencer.Header                 { return sequencer.Header{} }
func (noBlocks) Block(uint64) (*sequencer.Block, error) { return nil, errors.New("no blocks") }
func (noBlocks) ReferenceState(context.Context, uint64) (*l2.State, uint64, error) {
	return nil, 0, errors.New("no blocks")
}

type noTarget struct{ settlement.Target }
