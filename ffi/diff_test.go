package ffi

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// The differential tests run the same batches through the core (this package) and the Go
// reference (l2.DecodeBatch + (*l2.State).ApplyBatch without signature checks, docs §6) and
// require identical results after every batch.

var diffSeed = flag.Uint64("diff.seed", 20261125, "seed of the differential tests (printed on failure)")

// errorClasses pairs the reference's structural errors (docs §5.3) with the core's.
var errorClasses = [...]struct{ ref, core error }{
	{l2.ErrMalformed, ErrMalformed},
	{l2.ErrUnknownType, ErrUnknownType},
	{l2.ErrNonCanonical, ErrNonCanonical},
	{l2.ErrBatchTooLarge, ErrBatchTooLarge},
}

// sameClass reports whether a reference decoding error and a core error are the same
// call-level error of docs §5.3.
func sameClass(refErr, coreErr error) bool {
	for _, c := range errorClasses {
		if errors.Is(refErr, c.ref) {
			return errors.Is(coreErr, c.core)
		}
	}
	return false
}

// applyBoth applies batch data to the core and to the reference state and describes the first
// difference ("" if none): the call-level error class, or every per-transaction status, post
// root and withdrawal leaf, the batch roots, and the accounts the batch names. A rejected batch
// must leave the core's root unchanged. It reports whether the batch was accepted.
func applyBoth(c *Core, ref *l2.State, data []byte, out *BatchOutput) (accepted bool, diff string) {
	rootBefore, err := c.Root()
	if err != nil {
		return false, err.Error()
	}
	txs, refErr := l2.DecodeBatch(data)
	coreErr := c.ApplyBatch(data, out)
	switch {
	case refErr != nil || coreErr != nil:
		if refErr == nil || coreErr == nil || !sameClass(refErr, coreErr) {
			return false, fmt.Sprintf("call-level error: reference %v, core %v", refErr, coreErr)
		}
		if root, err := c.Root(); err != nil || root != rootBefore {
			return false, fmt.Sprintf("core root changed by a rejected batch (%v)", err)
		}
		return false, ""
	}
	r := ref.ApplyBatch(txs, l2.ApplyOptions{})
	if out.Len() != len(txs) {
		return true, fmt.Sprintf("%d results for %d transactions", out.Len(), len(txs))
	}
	for k := range txs {
		if out.Statuses[k] != TxStatus(r.Statuses[k]) {
			return true, fmt.Sprintf("tx %d (%s %d->%d amount %d nonce %d): status core %v, reference %v",
				k, txs[k].Type, txs[k].From, txs[k].To, txs[k].Amount, txs[k].Nonce, out.Statuses[k], r.Statuses[k])
		}
		if out.PostRoot(k) != r.PostRoots[k].Bytes() {
			return true, fmt.Sprintf("tx %d (%s, %v): post root core %x, reference %x", k, txs[k].Type, out.Statuses[k], out.PostRoot(k), r.PostRoots[k].Bytes())
		}
		if out.WithdrawalLeaf(k) != r.WithdrawalLeaves[k].Bytes() {
			return true, fmt.Sprintf("tx %d: withdrawal leaf core %x, reference %x", k, out.WithdrawalLeaf(k), r.WithdrawalLeaves[k].Bytes())
		}
	}
	switch {
	case out.FinalRoot != r.FinalRoot.Bytes():
		return true, fmt.Sprintf("final root core %x, reference %x", out.FinalRoot, r.FinalRoot.Bytes())
	case out.TraceRoot != r.TraceRoot.Bytes():
		return true, fmt.Sprintf("trace root core %x, reference %x", out.TraceRoot, r.TraceRoot.Bytes())
	case out.WithdrawalRoot != r.WithdrawalRoot.Bytes():
		return true, fmt.Sprintf("withdrawal root core %x, reference %x", out.WithdrawalRoot, r.WithdrawalRoot.Bytes())
	case out.Applied != r.Applied || out.Rejected != r.Rejected:
		return true, fmt.Sprintf("applied/rejected core %d/%d, reference %d/%d", out.Applied, out.Rejected, r.Applied, r.Rejected)
	}
	for k := range txs {
		for _, i := range touched(&txs[k]) {
			if d := compareAccount(c, ref, i); d != "" {
				return true, fmt.Sprintf("after tx %d: %s", k, d)
			}
		}
	}
	if n, err := c.AccountCount(); err != nil || n != uint64(ref.Len()) {
		return true, fmt.Sprintf("account count core %d (%v), reference %d", n, err, ref.Len())
	}
	return true, ""
}

// touched returns the account indices a transaction names.
func touched(tx *l2.Tx) []uint32 {
	switch tx.Type {
	case l2.TxTransfer, l2.TxTransferMLDSA:
		return []uint32{tx.From, tx.To}
	case l2.TxDeposit, l2.TxWithdraw, l2.TxWithdrawMLDSA:
		return []uint32{tx.From}
	}
	return nil
}

// compareAccount compares account i of the core and of the reference ("" if equal; an index
// outside the tree must be out of range for the core).
func compareAccount(c *Core, ref *l2.State, i uint32) string {
	got, err := c.Account(i)
	if uint64(i) >= uint64(1)<<ref.Depth() {
		if !errors.Is(err, ErrIndexOutOfRange) {
			return fmt.Sprintf("Account(%d) outside the tree: %v", i, err)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("Account(%d): %v", i, err)
	}
	if want := goAccountOf(ref.Account(i)); got != want {
		return fmt.Sprintf("account %d: core %+v, reference %+v", i, got, want)
	}
	return ""
}

// TestDifferentialCoreVsReference runs ≥ 100,000 random transactions (10,000 with -short) of
// l2test.NewMixedRandomBatches (EdDSA and ML-DSA accounts, types 2/3 and 5/6 of both kinds)
// through both implementations at depth 16, in batches of 1 to 256
// transactions and every 64th batch of MaxBatchTxs. The reference dominates the time (≈ 40
// Poseidon2 compressions per applied transfer in Go): about 15 s on the 2-core development
// machine without -race, within the one-minute budget.
func TestDifferentialCoreVsReference(t *testing.T) {
	const depth = 16
	total, maxTxs := 100_000, 256
	if testing.Short() {
		total, maxTxs = 10_000, 64
	}
	seed := *diffSeed
	c := newTestCore(t, depth)
	ref, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	gen := l2test.NewMixedRandomBatches(seed, depth)
	rng := rand.New(rand.NewPCG(seed, 1))
	var out BatchOutput
	var txs, batches, applied, rejected, mldsaApplied, statuses = 0, 0, 0, 0, 0, map[TxStatus]int{}
	for txs < total {
		size := 1 + rng.IntN(maxTxs)
		if batches%64 == 63 {
			size = MaxBatchTxs // fills the trace and withdrawal trees
		}
		data := gen.Next(size)
		accepted, diff := applyBoth(c, ref, data, &out)
		if diff != "" {
			t.Fatalf("seed %d (-diff.seed=%d), batch %d (%d txs in): %s", seed, seed, batches, txs, diff)
		}
		batches++
		if !accepted {
			continue
		}
		txs += out.Len()
		applied += out.Applied
		rejected += out.Rejected
		for k, s := range out.Statuses {
			statuses[s]++
			if s == TxOK && l2.TxType(data[k*TxSize+7]).MLDSA() {
				mldsaApplied++
			}
		}
	}
	t.Logf("seed %d: %d batches, %d transactions (%d applied, %d of them ML-DSA, %d rejected), %d accounts; statuses %v",
		seed, batches, txs, applied, mldsaApplied, rejected, ref.Len(), statuses)
	if mldsaApplied == 0 {
		t.Errorf("no type 5/6 transaction applied in %d transactions", txs)
	}
	// The generator must exercise the rules, not only the happy path.
	for _, s := range []TxStatus{TxOK, TxIndexOutOfRange, TxSenderNotFound, TxRecipientNotFound, TxBadNonce, TxInsufficientBalance, TxKeyKindMismatch} {
		if statuses[s] == 0 {
			t.Errorf("no transaction with status %v in %d transactions", s, txs)
		}
	}
}

// TestDifferentialStructuralErrors mutates random bytes of valid batches and requires the
// reference decoder and the core to give the same call-level error class (or both to accept
// the batch with equal results).
func TestDifferentialStructuralErrors(t *testing.T) {
	const depth = 8
	rounds := 3000
	if testing.Short() {
		rounds = 500
	}
	seed := *diffSeed
	c := newTestCore(t, depth)
	ref, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	gen := l2test.NewMixedRandomBatches(seed, depth)
	rng := rand.New(rand.NewPCG(seed, 2))
	var out BatchOutput
	classes := map[string]int{}
	for round := 0; round < rounds; round++ {
		data := mutate(rng, gen.Next(1+rng.IntN(8)))
		accepted, diff := applyBoth(c, ref, data, &out)
		if diff != "" {
			t.Fatalf("seed %d (-diff.seed=%d), round %d, data %x: %s", seed, seed, round, data, diff)
		}
		_, refErr := l2.DecodeBatch(data)
		switch {
		case accepted:
			classes["accepted"]++
		default:
			for _, cl := range errorClasses {
				if errors.Is(refErr, cl.ref) {
					classes[cl.core.Error()]++
				}
			}
		}
	}
	t.Logf("seed %d: outcomes of %d mutated batches: %v", seed, rounds, classes)
	for _, cl := range errorClasses {
		if classes[cl.core.Error()] == 0 {
			t.Errorf("no mutated batch was rejected as %v", cl.core)
		}
	}
}

// mutate applies one to three random edits to a batch: bytes set at random (biased to the
// header word and the top bytes of words, where the structural checks look), a word set to a
// value ≥ p, truncation, extension, or a batch grown past the limit.
func mutate(rng *rand.Rand, data []byte) []byte {
	for range 1 + rng.IntN(3) {
		if len(data) < 32 {
			return data
		}
		switch op := rng.IntN(20); {
		case op < 3: // the type byte
			i := rng.IntN(max(1, len(data)/TxSize))*TxSize + 7
			data[min(i, len(data)-1)] = byte(rng.UintN(8))
		case op < 10: // a byte of a header word
			i := rng.IntN(max(1, len(data)/TxSize))*TxSize + rng.IntN(32)
			data[min(i, len(data)-1)] = byte(rng.UintN(256))
		case op < 14: // the top byte of a word
			data[32*rng.IntN(len(data)/32)] = byte(rng.UintN(256))
		case op < 16: // one byte anywhere
			data[rng.IntN(len(data))] ^= byte(1 + rng.UintN(255))
		case op < 17: // a word set to p + small
			w := rng.IntN(len(data) / 32)
			copy(data[32*w:32*w+32], modulusBE)
			data[32*w+31] += byte(rng.UintN(8))
		case op < 18:
			data = data[:rng.IntN(len(data))]
		case op < 19:
			data = append(data, make([]byte, 1+rng.IntN(2*TxSize))...)
		default:
			data = append(data, make([]byte, (MaxBatchTxs+1)*TxSize-len(data)%TxSize)...)
		}
	}
	return data
}
