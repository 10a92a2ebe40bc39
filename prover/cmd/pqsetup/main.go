// Command pqsetup makes the Groth16 keys of the batch circuit: a single-party dev setup for the
// devnet and tests, and the commands of the multi-party setup (docs/prover.md).
//
// Usage:
//
//	pqsetup dev        -depth D -batch B -keys DIR
//	pqsetup init       -phase 1 -depth D -batch B -out p1-0000.mpc
//	pqsetup contribute -in p1-0000.mpc -out p1-0001.mpc
//	pqsetup verify     -phase 1 p1-0001.mpc p1-0002.mpc ...
//	pqsetup seal       -phase 1 -beacon HEX -out srs.mpc p1-0001.mpc p1-0002.mpc ...
//	pqsetup init       -phase 2 -depth D -batch B -srs srs.mpc -out p2-0000.mpc
//	pqsetup contribute -in p2-0000.mpc -out p2-0001.mpc
//	pqsetup verify     -phase 2 -depth D -batch B -srs srs.mpc p2-0001.mpc ...
//	pqsetup seal       -phase 2 -depth D -batch B -srs srs.mpc -beacon HEX -keys DIR p2-0001.mpc ...
//	pqsetup export     -depth D -batch B -keys DIR [-sol Verifier.sol]
//
// Progress goes to standard error; results (digests, key IDs) to standard output.
package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/consensys/gnark/logger"

	"github.com/pqbridge/pqbridge/prover"
)

func main() {
	logger.Disable() // the progress line reports the steps
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "dev":
		err = dev(os.Args[2:])
	case "init":
		err = initCmd(os.Args[2:])
	case "contribute":
		err = contribute(os.Args[2:])
	case "verify":
		err = verify(os.Args[2:])
	case "seal":
		err = seal(os.Args[2:])
	case "export":
		err = export(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pqsetup:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pqsetup dev|init|contribute|verify|seal|export [flags] (see go doc ./prover/cmd/pqsetup)")
	os.Exit(2)
}

var progress = prover.NewProgress(os.Stderr)

// flags is the flag set of a subcommand with the flags they share.
type flags struct {
	*flag.FlagSet
	phase, depth, batch        *int
	in, out, srs, keys, beacon *string
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet("pqsetup "+name, flag.ExitOnError)
	return &flags{
		FlagSet: fs,
		phase:   fs.Int("phase", 0, "MPC phase: 1 (powers of tau) or 2 (circuit-specific)"),
		depth:   fs.Int("depth", 24, "state tree depth D"),
		batch:   fs.Int("batch", 16, "transaction slots B"),
		in:      fs.String("in", "", "input file"),
		out:     fs.String("out", "", "output file"),
		srs:     fs.String("srs", "", "sealed phase 1 (seal -phase 1 output)"),
		keys:    fs.String("keys", "", "key directory root"),
		beacon:  fs.String("beacon", "", "random beacon, hex: a public value fixed after the last contribution"),
	}
}

func (f *flags) params() prover.Params { return prover.Params{Depth: *f.depth, BatchSize: *f.batch} }

// phase2 compiles the MPC circuit of -depth and -batch and opens the phase-1 result named by
// -srs, which every phase-2 step reads; the caller closes it.
func (f *flags) phase2() (prover.MPCCircuit, *os.File, error) {
	c, err := prover.BatchMPCCircuit(f.params(), progress)
	if err != nil {
		return c, nil, err
	}
	srs, err := os.Open(*f.srs)
	return c, srs, err
}

func (f *flags) require(names ...string) error {
	for _, n := range names {
		if f.Lookup(n).Value.String() == "" {
			return fmt.Errorf("-%s is required", n)
		}
	}
	return nil
}

func dev(args []string) error {
	f := newFlags("dev")
	f.Parse(args)
	if err := f.require("keys"); err != nil {
		return err
	}
	k, err := prover.DevSetup(f.params(), progress)
	if err != nil {
		return err
	}
	if err := k.Save(*f.keys, "dev"); err != nil {
		return err
	}
	return printKeyID(k, *f.keys)
}

func printKeyID(k *prover.Keys, root string) error {
	id, err := prover.VerifyingKeyID(k.VK)
	if err != nil {
		return err
	}
	fmt.Printf("verifying_key_id=%v dir=%s\n", id, prover.KeyDir(root, k.Params))
	return nil
}

func initCmd(args []string) error {
	f := newFlags("init")
	f.Parse(args)
	if err := f.require("out"); err != nil {
		return err
	}
	switch *f.phase {
	case 1:
		c, err := prover.BatchMPCCircuit(f.params(), progress)
		if err != nil {
			return err
		}
		return writeFile(*f.out, func(w io.Writer) error { return prover.MPCInitPhase1(c.DomainSize(), w) })
	case 2:
		if err := f.require("srs"); err != nil {
			return err
		}
		c, srs, err := f.phase2()
		if err != nil {
			return err
		}
		defer srs.Close()
		return writeFile(*f.out, func(w io.Writer) error { return prover.MPCInitPhase2(c, srs, w, progress) })
	}
	return errors.New("-phase must be 1 or 2")
}

func contribute(args []string) error {
	f := newFlags("contribute")
	f.Parse(args)
	if err := f.require("in", "out"); err != nil {
		return err
	}
	in, err := os.Open(*f.in)
	if err != nil {
		return err
	}
	defer in.Close()
	var digest prover.ContributionDigest
	if err := writeFile(*f.out, func(w io.Writer) error {
		var err error
		digest, err = prover.MPCContribute(in, w, progress)
		return err
	}); err != nil {
		return err
	}
	fmt.Printf("contribution_sha256=%s file=%s\n", hex.EncodeToString(digest[:]), *f.out)
	return nil
}

func verify(args []string) error {
	f := newFlags("verify")
	f.Parse(args)
	files, closeAll, err := openAll(f.Args())
	if err != nil {
		return err
	}
	defer closeAll()
	switch *f.phase {
	case 1:
		n, err := prover.MPCVerifyPhase1(progress, files...)
		if err != nil {
			return err
		}
		fmt.Printf("phase 1 ok: %d contributions, domain %d\n", len(files), n)
		return nil
	case 2:
		if err := f.require("srs"); err != nil {
			return err
		}
		c, srs, err := f.phase2()
		if err != nil {
			return err
		}
		defer srs.Close()
		if err := prover.MPCVerifyPhase2(c, srs, progress, files...); err != nil {
			return err
		}
		fmt.Printf("phase 2 ok: %d contributions for %s\n", len(files), c.Name)
		return nil
	}
	return errors.New("-phase must be 1 or 2")
}

func seal(args []string) error {
	f := newFlags("seal")
	f.Parse(args)
	if err := f.require("beacon"); err != nil {
		return err
	}
	beacon, err := hex.DecodeString(*f.beacon)
	if err != nil || len(beacon) == 0 {
		return fmt.Errorf("-beacon: not hex: %q", *f.beacon)
	}
	files, closeAll, err := openAll(f.Args())
	if err != nil {
		return err
	}
	defer closeAll()
	switch *f.phase {
	case 1:
		if err := f.require("out"); err != nil {
			return err
		}
		return writeFile(*f.out, func(w io.Writer) error { return prover.MPCSealPhase1(beacon, w, progress, files...) })
	case 2:
		if err := f.require("srs", "keys"); err != nil {
			return err
		}
		c, srs, err := f.phase2()
		if err != nil {
			return err
		}
		defer srs.Close()
		pk, vk, err := prover.MPCSealPhase2(c, srs, beacon, progress, files...)
		if err != nil {
			return err
		}
		k := &prover.Keys{Params: f.params(), CS: c.R1CS, PK: pk, VK: vk}
		if err := k.Save(*f.keys, "mpc"); err != nil {
			return err
		}
		return printKeyID(k, *f.keys)
	}
	return errors.New("-phase must be 1 or 2")
}

func export(args []string) error {
	f := newFlags("export")
	sol := f.String("sol", "", "write the Solidity verifier to this file")
	f.Parse(args)
	if err := f.require("keys"); err != nil {
		return err
	}
	k, err := prover.LoadKeys(*f.keys, f.params(), progress)
	if err != nil {
		return err
	}
	if *sol != "" {
		if err := writeFile(*sol, func(w io.Writer) error { return prover.ExportSolidity(k.VK, w) }); err != nil {
			return err
		}
	}
	return printKeyID(k, *f.keys)
}

// writeFile writes path through a temporary file renamed at the end.
func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func openAll(paths []string) ([]io.Reader, func(), error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("no contribution files given")
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	readers := make([]io.Reader, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
		readers[i] = f
	}
	return readers, closeAll, nil
}
