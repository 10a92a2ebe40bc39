// Package nodesource is the challenger's Source of an L1 node in process (tests and devnets).
// It is apart from package challenger so that the challenger daemon, which reads its L1 node
// over QUIC, links no L1 node, state machine or pebble store of the chain (docs/l1.md §6).
package nodesource

import (
	"context"

	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/l1/node"
)

// New is the Source of n, read in process through n.Local().
func New(n *node.Node) challenger.Source { return source{n.Local()} }

// source only gives Events its interface result.
type source struct{ node.Local }

// Events implements challenger.Source.
func (s source) Events(ctx context.Context, fromHeight uint64) (challenger.Events, error) {
	e, err := s.Local.Events(ctx, fromHeight)
	if err != nil {
		return nil, err
	}
	return e, nil
}
