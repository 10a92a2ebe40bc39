package cliconf

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Spec describes a daemon for its --help.
type Spec struct {
	// Use is the command's name, then any positional arguments; empty: the flag set's name.
	Use string
	// Short says what the daemon is in one line, Long in paragraphs (shown instead of Short).
	Short, Long string
	// Example holds indented example invocations.
	Example string
	// Args checks the positional arguments, which the daemon then reads from fs.Args(); nil
	// refuses any.
	Args cobra.PositionalArgs
}

// Execute is a daemon's command line: it parses args (os.Args[1:] in the binaries) into fs with
// a cobra command built from spec, then fills every flag not on the command line from its
// environment variable (lookupEnv, os.LookupEnv in the binaries; nil reads none), or else from
// the --config file. Flags are --name value or --name=value; the standard library's -name value
// and -name=value still work. Afterwards fs.Visit sees every flag set by any of the three
// sources, and fs.Args() holds the positional arguments spec.Args accepted.
//
// --help and --version print to standard output and return flag.ErrHelp, or exit with status
// 0 if fs was made with flag.ExitOnError. Any other error is returned and names its source.
func Execute(spec Spec, fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	err := execute(spec, fs, args, lookupEnv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) && fs.ErrorHandling() == flag.ExitOnError {
		os.Exit(0)
	}
	return err
}

func execute(spec Spec, fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool), out io.Writer) error {
	configFile := registerConfig(fs)
	ran := false
	cmd := &cobra.Command{
		Use:           cmp.Or(spec.Use, fs.Name()),
		Short:         spec.Short,
		Long:          spec.Long,
		Example:       spec.Example,
		Args:          spec.Args,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(_ *cobra.Command, positional []string) error {
			ran = true
			if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
				return err
			}
			return fill(fs, configFile, lookupEnv)
		},
	}
	if cmd.Args == nil {
		cmd.Args = noArgs
	}
	cmd.SetOut(out)
	flags := cmd.Flags()
	flags.AddGoFlagSet(fs)
	flags.VisitAll(func(f *pflag.Flag) {
		f.Value = goValue{Value: f.Value, fs: fs, name: f.Name}
		f.Usage += " [$" + EnvName(f.Name) + "]"
	})
	// Declared here so that cobra does not take -v for it: -v is pqprover's verbose flag.
	flags.Bool("version", false, "print the version and exit")
	cmd.InitDefaultHelpFlag()
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (%s --help lists the options)", err, c.Name())
	})
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		w := c.OutOrStderr()
		fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
		if c.HasExample() {
			fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
		}
		_, err := fmt.Fprintf(w, "\nFlags:\n%s"+footer, c.LocalFlags().FlagUsagesWrapped(helpWidth), EnvPrefix, configExample(fs))
		return err
	})
	cmd.SetArgs(normalize(flags, args))
	if err := cmd.Execute(); err != nil {
		return err
	}
	if !ran {
		return flag.ErrHelp
	}
	return nil
}

// helpWidth is the width --help wraps the options' descriptions to: the column of names takes
// up to 40 of it.
const helpWidth = 100

const footer = `
Each option is taken from the first of: the command line (--name value, --name=value or -name
value), its environment variable ([$%s<NAME>]: the name in upper case, '-' as '_'),
the file named by --config, and its default. The file is one JSON object from option names to
strings, numbers or booleans, e.g.
  %s
`

// configExample is a --config file setting the first two options that have a default other
// than the zero value.
func configExample(fs *flag.FlagSet) string {
	var fields []string
	fs.VisitAll(func(f *flag.Flag) {
		switch f.DefValue {
		case "", "0", "0s", "false":
			return
		}
		if len(fields) == 2 || f.Name == "config" {
			return
		}
		v, _ := json.Marshal(f.DefValue)
		var scalar any
		if json.Unmarshal([]byte(f.DefValue), &scalar) == nil {
			switch scalar.(type) {
			case float64, bool:
				v = []byte(f.DefValue)
			}
		}
		fields = append(fields, fmt.Sprintf("%q: %s", f.Name, v))
	})
	return "{" + strings.Join(fields, ", ") + "}"
}

// noArgs refuses positional arguments: a daemon takes options only.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: options are --name value", args[0])
	}
	return nil
}

// normalize rewrites the standard library's -name and -name=value, which pflag would read as a
// run of shorthand letters, to --name. The value after a flag that takes one, and everything
// after "--", stay as they are.
func normalize(flags *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			out = append(out, a)
			continue
		}
		body, long := strings.CutPrefix(a[1:], "-")
		name, _, inline := strings.Cut(body, "=")
		if !long && len(name) > 1 {
			a, long = "-"+a, true
		}
		var f *pflag.Flag
		if long {
			f = flags.Lookup(name)
		} else {
			f = flags.ShorthandLookup(name)
		}
		out = append(out, a)
		if f != nil && f.NoOptDefVal == "" && !inline && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// goValue sets a flag through its standard-library flag set, so that fs.Visit sees the flags
// given on the command line, as the env and file lookups in fill expect.
type goValue struct {
	pflag.Value
	fs   *flag.FlagSet
	name string
}

func (v goValue) Set(s string) error { return v.fs.Set(v.name, s) }

// version is the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := cmp.Or(bi.Main.Version, "(devel)")
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += ", revision " + s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		v += " (modified)"
	}
	return v + ", " + bi.GoVersion
}
