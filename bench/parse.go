package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// sample is one result line of go test -bench: a benchmark's name without the "Benchmark"
// prefix and the -GOMAXPROCS suffix, its iteration count and every metric by unit (ns/op, the
// -benchmem units and each b.ReportMetric).
type sample struct {
	name       string
	iterations int
	metrics    map[string]float64
}

var (
	// A result: the iteration count then tab-separated "value unit" pairs, at the end of a line
	// (a benchmark that writes to stderr without a newline leaves its text in front of it).
	resultRE = regexp.MustCompile(`(?:^|\s)(\d+)((?:\t\s*[-+]?[0-9.]+(?:[eE][-+]?\d+)? \S+)+)\s*$`)
	pairRE   = regexp.MustCompile(`([-+]?[0-9.]+(?:[eE][-+]?\d+)?) (\S+)`)
	nameRE   = regexp.MustCompile(`^Benchmark(\S+)`)
)

// parseBench reads go test -bench output. procs is the GOMAXPROCS of the run: go test appends
// "-procs" to every name when it is above 1, and only that suffix is cut (names such as
// "ML-DSA-65" keep theirs). go test prints a benchmark's name before running it and its result
// after, so anything the benchmark writes in between splits the line: a name without a result
// waits for the next line that is only a result.
func parseBench(r io.Reader, procs int) ([]sample, error) {
	var out []sample
	pending := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		name, token := "", 0
		if m := nameRE.FindStringSubmatch(line); m != nil {
			name, token = trimProcs(m[1], procs), len(m[0])
			pending = name
		}
		loc := resultRE.FindStringSubmatchIndex(line)
		if loc == nil {
			continue
		}
		if name == "" {
			// A result alone on its line belongs to the pending name; anything else (a log line
			// ending in digits and units) is not a result.
			if pending == "" || strings.TrimSpace(line[:loc[2]]) != "" {
				continue
			}
			name = pending
		} else if loc[2] < token {
			continue // the digits are part of the name
		}
		pending = ""
		n, err := strconv.Atoi(line[loc[2]:loc[3]])
		if err != nil {
			return nil, err
		}
		s := sample{name: name, iterations: n, metrics: map[string]float64{}}
		for _, p := range pairRE.FindAllStringSubmatch(line[loc[4]:loc[5]], -1) {
			v, err := strconv.ParseFloat(p[1], 64)
			if err != nil {
				return nil, err
			}
			s.metrics[p[2]] = v
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func trimProcs(name string, procs int) string {
	if procs <= 1 {
		return name
	}
	return strings.TrimSuffix(name, "-"+strconv.Itoa(procs))
}

// parseKeyValues reads the key=value lines a command such as prover/cmd/circuitstats prints,
// as one sample of the given name whose metrics are the keys.
func parseKeyValues(r io.Reader, name string) ([]sample, error) {
	s := sample{name: name, iterations: 1, metrics: map[string]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.ContainsAny(k, " \t") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			s.metrics[k] = f
		}
	}
	if err := sc.Err(); err != nil || len(s.metrics) == 0 {
		return nil, err
	}
	return []sample{s}, nil
}
