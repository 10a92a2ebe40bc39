// Package cmd is the home of pqbridge's binaries, one folder per role: the L1 settlement node,
// the L2 sequencer, the prover, the challenger and the wallet CLI. Configuration (flags,
// environment, config file) is built here and nowhere else; the daemons themselves live in the
// role packages and follow New(cfg) -> Start(ctx) -> Stop().
package cmd
