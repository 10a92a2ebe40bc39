// Command circuitstats compiles the batch circuit (no setup) and prints its R1CS size per
// transaction slot, the figure `make circuit-stats` reports:
//
//	constraints_per_tx=<total R1CS constraints / B>
//
// Every slot handles every transaction type, so this is the cost of a transfer, including its
// share of the per-batch work (commitment hash, trace and withdrawal list roots, the range
// check table). -v adds the breakdown on standard error.
//
// Usage:
//
//	go run ./prover/cmd/circuitstats -depth 24 -batch 16 [-v]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/consensys/gnark/logger"

	"github.com/pqbridge/pqbridge/prover"
)

func main() {
	depth := flag.Int("depth", 24, "state tree depth D")
	batch := flag.Int("batch", 16, "transaction slots B")
	verbose := flag.Bool("v", false, "print the breakdown on standard error")
	flag.Parse()
	logger.Disable()
	p := prover.Params{Depth: *depth, BatchSize: *batch}
	cs, err := prover.Compile(p)
	if err != nil {
		log.Fatal(err)
	}
	total := cs.GetNbConstraints()
	fmt.Printf("constraints_per_tx=%d\n", (total+p.BatchSize-1)/p.BatchSize)
	if !*verbose {
		return
	}
	// A slot's own cost, its list-root hashing included, from a batch of twice the size (the
	// list trees then keep the same shape above the slots).
	double, err := prover.Compile(prover.Params{Depth: *depth, BatchSize: 2 * *batch})
	if err != nil {
		log.Fatal(err)
	}
	slot := (double.GetNbConstraints() - total) / p.BatchSize
	fmt.Fprintf(os.Stderr, "%v: %d constraints in total; one slot %d, per batch %d (commitment, list roots above the slots, range-check table)\n",
		p, total, slot, total-slot*p.BatchSize)
}
