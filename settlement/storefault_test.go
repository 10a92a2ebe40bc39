package settlement_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/settlement"
)

// submitFault is the native target with a storage fault switched on right after a submission
// was sent: L1 has the batch, the engine's record of it fails.
type submitFault struct {
	settlement.Target
	fs    *storefault.FS
	fault atomic.Int32 // storefault.Fault to set at the next Submit (None: nothing)
}

func (s *submitFault) Submit(ctx context.Context, sub *settlement.Submission) (settlement.TxRef, error) {
	ref, err := s.Target.Submit(ctx, sub)
	if f := storefault.Fault(s.fault.Swap(int32(storefault.None))); f != storefault.None {
		s.fs.Set(f)
	}
	return ref, err
}

// TestStorageFaultsSettlement: a full disk or failing syncs when a batch is cut, when a posted
// batch's record is stored, or when a batch's new state on L1 is stored, halt the engine with
// an error naming the cause (ErrHalted, ErrStore) and Err non-nil, without a panic; Status
// still answers. Reopened on the same datadir once the fault clears, the engine settles every
// transaction once (no batch repeats or skips one) and every batch finalizes.
func TestStorageFaultsSettlement(t *testing.T) {
	for _, fault := range []storefault.Fault{storefault.Full, storefault.SyncFails} {
		for _, point := range []string{"cut", "post", "reconcile"} {
			t.Run(fault.String()+"/"+point, func(t *testing.T) { settlementFault(t, fault, point) })
		}
	}
}

func settlementFault(t *testing.T, fault storefault.Fault, point string) {
	fs := storefault.New(nil)
	sf := &submitFault{fs: fs}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, FS: fs, Dir: t.TempDir()},
		worldOpts{depth: depth, batchSize: batchSize, target: func(tg settlement.Target) settlement.Target {
			sf.Target = tg
			return sf
		}})
	w.deposit(3, 1000)
	w.settle() // batch 1 posted and in an L1 block
	w.settle() // batch 1 in its window: the engine has nothing left to store
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}),
		w.signed(l2.Tx{Type: l2.TxTransfer, From: 2, To: 0, Amount: 3}))
	switch point {
	case "cut":
		fs.Set(fault)
	case "post":
		sf.fault.Store(int32(fault))
	case "reconcile":
		w.settle() // batch 2 posted and in an L1 block
		fs.Set(fault)
	}
	err := w.eng.Step(w.ctx)
	errno := syscall.ENOSPC
	if fault == storefault.SyncFails {
		errno = syscall.EIO
	}
	if !errors.Is(err, settlement.ErrHalted) || !errors.Is(err, settlement.ErrStore) || !strings.Contains(err.Error(), errno.Error()) {
		t.Fatalf("step under %s at %s: %v; want a halt naming %q", fault, point, err, errno)
	}
	if e := w.eng.Err(); !errors.Is(e, settlement.ErrStore) {
		t.Fatalf("Err = %v, want the storage fault", e)
	}
	fs.Set(storefault.None) // the engine stays halted until it is reopened
	if err := w.eng.Step(w.ctx); !errors.Is(err, settlement.ErrHalted) {
		t.Fatalf("step after the fault cleared: %v, want ErrHalted", err)
	}
	if len(w.eng.Status()) == 0 {
		t.Fatal("Status of a halted engine is empty")
	}
	w.block() // the post point's submission, if any, lands on L1
	if r := w.rollupState(); point == "post" && r.HeadNumber != 2 {
		t.Fatalf("L1 head %d: batch 2 was sent before its record failed, want it on L1", r.HeadNumber)
	}
	w.reopenEngine()
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 7}))
	w.finalizeAll()
	w.checkCoverage()
}

// TestStorageFaultsSettlementReadOnly: a datadir turned read-only refuses the reopen with an
// error naming it; once writable again the engine resumes from its records and finalizes.
func TestStorageFaultsSettlementReadOnly(t *testing.T) {
	fs := storefault.New(nil)
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, FS: fs, Dir: t.TempDir()},
		worldOpts{depth: depth, batchSize: batchSize})
	w.deposit(3, 1000)
	w.settle()
	if err := w.eng.Stop(); err != nil {
		t.Fatal(err)
	}
	fs.Set(storefault.ReadOnly)
	if _, err := settlement.New(w.engCfg); err == nil || !strings.Contains(err.Error(), syscall.EACCES.Error()) {
		t.Fatalf("open on a read-only datadir: %v; want %q", err, syscall.EACCES)
	}
	fs.Set(storefault.None)
	w.openEngine()
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}))
	w.finalizeAll()
	w.checkCoverage()
}

// reopenEngine stops the engine (a halted one reports its store's fault again) and opens it on
// the same datadir.
func (w *world) reopenEngine() {
	w.t.Helper()
	if err := w.eng.Stop(); err != nil {
		w.t.Logf("stopping the engine: %v", err)
	}
	w.openEngine()
}

func (w *world) openEngine() {
	w.t.Helper()
	eng, err := settlement.New(w.engCfg)
	if err != nil {
		w.t.Fatalf("reopening the engine: %v", err)
	}
	if err := eng.Err(); err != nil {
		w.t.Fatalf("reopened engine: %v", err)
	}
	w.eng = eng
	w.seq.SetSettlement(eng)
}

// checkCoverage: the batches hold every transaction of the sequencer's blocks once, in order.
func (w *world) checkCoverage() {
	w.t.Helper()
	var txs uint64
	for n := uint64(1); n <= w.seq.Head().Number; n++ {
		b, err := w.seq.Block(n)
		if err != nil {
			w.t.Fatal(err)
		}
		txs += uint64(len(b.Data) / l2.TxSize)
	}
	fin := w.eng.LastFinal() // the final batches' records are pruned: their summary
	batched, end := fin.Txs, fin.End()
	for _, s := range w.eng.Status() {
		if s.Number <= fin.Number {
			continue
		}
		if s.Start.Block < end.Block || s.Start.Block == end.Block && s.Start.Offset < end.Offset {
			w.t.Fatalf("batch %d starts at %+v, before its predecessor's end %+v", s.Number, s.Start, end)
		}
		batched, end = batched+s.TxCount, s.End
	}
	if batched != txs {
		w.t.Fatalf("batches hold %d transactions, the sequencer's blocks %d", batched, txs)
	}
}

// staleHead is the native target whose next Head returns a head read earlier: the race of a
// head read just before the block that includes a posting.
type staleHead struct {
	settlement.Target
	stale atomic.Pointer[settlement.TargetHead]
}

func (s *staleHead) Head(ctx context.Context) (settlement.TargetHead, error) {
	if h := s.stale.Swap(nil); h != nil {
		return *h, nil
	}
	return s.Target.Head(ctx)
}

// TestRevertsCountOnlyL1Reverts: a posted batch the head does not show yet because the head
// was read before its block is not a revert; the engine follows it into its window. (The fraud
// scenarios check that an upheld challenge counts one revert per reverted batch, and that a
// refused posting counts a rejection, not a revert.)
func TestRevertsCountOnlyL1Reverts(t *testing.T) {
	sh := &staleHead{}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic}, worldOpts{depth: depth, batchSize: batchSize,
		target: func(tg settlement.Target) settlement.Target { sh.Target = tg; return sh }})
	w.deposit(3, 1000)
	before, err := sh.Head(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.settle() // batch 1 posted and in an L1 block
	sh.stale.Store(&before)
	if err := w.eng.Step(w.ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.eng.Status()[0]; st.Reverts != 0 || st.Rejects != 0 || st.State == settlement.StateBuilt {
		t.Fatalf("batch 1 after a stale head: %+v; want no revert", st)
	}
	w.finalizeAll()
	for _, st := range w.eng.Status() {
		if st.Reverts != 0 || st.Rejects != 0 {
			t.Fatalf("honest run counted %+v", st)
		}
	}
}

// blockingHead is a target whose Head waits until release is closed.
type blockingHead struct {
	settlement.Target
	entered chan struct{}
	release chan struct{}
}

func (b *blockingHead) Head(ctx context.Context) (settlement.TargetHead, error) {
	close(b.entered)
	<-b.release
	return b.Target.Head(ctx)
}

// TestStatusDoesNotWaitForL1: Status, BlockSettlement, LastFinal, Lag, CrossCheck and Err answer, and
// SetPolicy and InjectFault return, while a step waits on L1.
func TestStatusDoesNotWaitForL1(t *testing.T) {
	bh := &blockingHead{entered: make(chan struct{}), release: make(chan struct{})}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic}, worldOpts{depth: depth, batchSize: batchSize,
		target: func(tg settlement.Target) settlement.Target { bh.Target = tg; return bh }})
	stepped := make(chan error, 1)
	go func() { stepped <- w.eng.Step(w.ctx) }()
	<-bh.entered
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		w.eng.Status()
		w.eng.BlockSettlement(1)
		w.eng.LastFinal()
		w.eng.Lag()
		w.eng.CrossCheck()
		if err := w.eng.Err(); err != nil {
			t.Errorf("Err: %v", err)
		}
		if err := w.eng.SetPolicy(settlement.PolicyOptimistic); err != nil {
			t.Errorf("SetPolicy: %v", err)
		}
		if n, err := w.eng.InjectFault(settlement.Fault{Kind: settlement.FaultFinalRoot}); err != nil || n != 1 {
			t.Errorf("InjectFault during a step: batch %d, %v; want 1", n, err)
		}
	}()
	select {
	case <-answered:
	case <-time.After(30 * time.Second): // a deadlock, not a slow answer
		t.Fatal("Status, BlockSettlement, LastFinal, Lag, CrossCheck, Err, SetPolicy or InjectFault waited for a step blocked on L1")
	}
	close(bh.release)
	if err := <-stepped; err != nil {
		t.Fatal(err)
	}
}
