// Package fraud will hold the optimistic side: per-transaction trace commitments, single-round
// fraud proofs that point at the first wrong trace entry, the single-step verifier L1 runs (built
// on the Go reference in package l2), and the challenger's logic.
package fraud
