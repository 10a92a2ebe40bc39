package prover

import (
	"fmt"

	"github.com/pqbridge/pqbridge/l2"
)

// CircuitVersion names the constraint system of BatchCircuit. It is part of every key
// directory name, so keys made for an older circuit are never loaded for a newer one; bump it
// whenever Define changes the constraints.
const CircuitVersion = "batch-v2" // v2: signed transactions assert pk.x != 0 (issue 17)

// Params are the setup parameters of a batch circuit: the state tree depth D of the rollup
// (docs/protocol.md §3, fixed at genesis) and the number B of transaction slots of one proof.
// Keys are made for one Params value; a batch of up to B transactions is proven with them.
type Params struct {
	Depth     int
	BatchSize int
}

// Validate reports whether p is within the protocol's limits.
func (p Params) Validate() error {
	if p.Depth < l2.MinTreeDepth || p.Depth > l2.MaxTreeDepth {
		return fmt.Errorf("prover: tree depth %d outside [%d, %d]", p.Depth, l2.MinTreeDepth, l2.MaxTreeDepth)
	}
	if p.BatchSize < 1 || p.BatchSize > l2.MaxBatchTxs {
		return fmt.Errorf("prover: batch size %d outside [1, %d]", p.BatchSize, l2.MaxBatchTxs)
	}
	return nil
}

// String is the parameter set's name in key directories and logs, e.g. "batch-v2-d24-b16".
func (p Params) String() string {
	return fmt.Sprintf("%s-d%d-b%d", CircuitVersion, p.Depth, p.BatchSize)
}
