// Package prover is the validity side of settlement: the gnark batch circuit implementing
// docs/protocol.md (§8.7: Groth16 on BN254, one public input, the commitment hash), circuit
// assignments from execution witnesses (the Go reference here, the Zig core in
// prover/corewitness), key setup (single-party for the devnet, multi-party for production),
// saving and loading, proving (Prove, the Service daemon behind cmd/pqprover), verification
// for L1 (Verify, Verifier) and the exported Solidity verifier. docs/prover.md describes it.
package prover
