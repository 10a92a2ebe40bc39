// Package prover will hold the validity side: the gnark batch circuit implementing
// docs/protocol.md (Groth16 on BN254, one public input: the commitment hash), key setup and
// loading, the proving service, and the exported Solidity verifier.
package prover
