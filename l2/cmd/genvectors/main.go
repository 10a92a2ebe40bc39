// Command genvectors writes the shared test vectors (testdata/vectors.json, docs/protocol.md
// §10) from the Go reference. The output is deterministic.
//
// Usage:
//
//	go run ./l2/cmd/genvectors -o testdata/vectors.json
package main

import (
	"flag"
	"log"
	"os"

	"github.com/pqbridge/pqbridge/l2/vectors"
)

func main() {
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	f, err := vectors.Generate()
	if err != nil {
		log.Fatal(err)
	}
	data, err := vectors.Marshal(f)
	if err != nil {
		log.Fatal(err)
	}
	if *out == "" {
		_, err = os.Stdout.Write(data)
	} else {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		log.Fatal(err)
	}
}
