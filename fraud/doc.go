// Package fraud is the optimistic side of settlement (docs/protocol.md §11): single-round fraud
// proofs against a batch's published trace, the verifier L1 runs on them (Judge, a
// chain.FraudJudge), and Build, which a challenger uses to find the first wrong step of a batch
// and prove it (BuildFrom when it found the first steps right by other means: the native core). A step is judged by re-executing its one transaction with the Go reference
// (l2.State.Apply, signatures checked) on a partial state made of Merkle witnesses: the rules
// exist once, in package l2, and this package only decides which step to run and what its
// result must be compared with.
package fraud
