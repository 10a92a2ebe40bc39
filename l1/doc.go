// Package l1 will hold the L1 settlement node: a deterministic state machine over pebble that
// keeps the bridge escrow and each rollup's deposit queue, verifies validity proofs and judges
// fraud proofs with the Go reference (package l2), enforces challenge, forced-inclusion and exodus
// windows, bonds and governor limits, and serves all of it over QUIC with ML-DSA-65 signed messages.
package l1
