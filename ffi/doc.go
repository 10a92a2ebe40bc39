// Package ffi is the cgo binding of the native execution core (native/, C ABI in
// native/include/pqcore.h): the Zig library that owns the L2 state tree in memory, executes
// batches (docs/protocol.md §7–§8), and exports Merkle witnesses (one index, or every account a
// batch reads, for the validity prover: [Core.ApplyBatchWitness]) and snapshots (§4.3, §9).
// It is a thin, low-level layer: protocol types, signing and the reference state transition live
// in package l2; this package speaks bytes, status codes and sentinel errors, and reads the core's
// words as field elements ([Element], [Witness.Elements]) for the callers that compute with them.
//
// # One call per batch
//
// [Core.ApplyBatch] crosses into the core exactly once per batch, never per transaction, and
// writes into a caller-owned [BatchOutput] that is reused across calls: in steady state it
// allocates nothing. Every C function is declared noescape and nocallback (the core never calls
// back into Go and never keeps a pointer after it returns), so passing Go buffers costs no
// allocation.
//
// # Signatures are not checked
//
// The core does not verify transaction signatures (docs/protocol.md §6). The caller must verify
// every transfer and withdraw signature before passing a batch to [Core.ApplyBatch]; the core's
// result equals the reference's (l2) result with signature checking switched off.
//
// # Thread safety
//
// A [Core] may be used from several goroutines. ApplyBatch, ApplyBatchWitness and Close take
// the handle exclusively; Root, AccountCount, Account, Witness and Snapshot share it and run
// concurrently with each other. Close is the contract for releasing the core's memory (a
// cleanup frees a forgotten handle when the Core becomes unreachable, as a safety net only);
// after Close every method returns an error wrapping [ErrClosed]. The package-level Poseidon2
// functions need no Core and are safe for concurrent use, except [ForcePortablePoseidon2], which
// is process-wide and meant for tests.
//
// # Buffer ownership
//
// Inputs (batch data, snapshots, hash inputs) are only read during the call and may be reused
// by the caller right after it returns. Outputs are Go memory: a [BatchOutput]'s slices, and a
// [BatchWitness]'s witnesses with their Siblings, are overwritten by the next call into the same
// value, so copy what must outlive it; everything else returned (accounts, witnesses of
// [Core.Witness], snapshots) is a fresh value owned by the caller.
//
// # Errors
//
// Each call-level pq_status maps to a sentinel error (ErrMalformed, ErrNonCanonical, ...),
// wrapped with the operation's context, so errors.Is works. Per-transaction results are not
// errors: they are [TxStatus] codes (docs/protocol.md §7.1) in [BatchOutput.Statuses]. On a
// call-level error the core's state is unchanged.
//
// The Go build cache does not track libpqcore.a: build it with `make core`, which also writes
// zz_corelib_hash.go so that this package is rebuilt and relinked whenever the library changes.
package ffi
