// Package cliconf is the command line of the daemons: Execute runs a daemon's standard-library
// flag set as a cobra command (--help, --version, --name value and the older -name value) and
// fills it from three sources: the command line, the environment (PQBRIDGE_<FLAG>, upper case,
// '-' as '_') and an optional JSON file named by --config ({"flag-name": value}). The command
// line wins over the environment, the environment over the file, the file over the flag's
// default. The daemons' config structs are still built from the flags, in cmd/ only.
package cliconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// EnvPrefix starts the environment variable of every flag.
const EnvPrefix = "PQBRIDGE_"

// maxConfigFile bounds the --config file: a flat object of options, not a data file.
const maxConfigFile = 1 << 20

// EnvName is the environment variable of flag name: "l1-chain-id" is PQBRIDGE_L1_CHAIN_ID.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// registerConfig adds --config to fs.
func registerConfig(fs *flag.FlagSet) *string {
	return fs.String("config", "", "JSON file of options: {\"flag-name\": value, ...}; the command line and "+EnvPrefix+"<FLAG> variables override it")
}

// fill sets every flag of fs not set yet (fs.Visit: the command line) from its environment
// variable, or else from the file named by *configFile, once the environment had its say. A
// value that does not parse, an unknown key in the file, or a file that is not a JSON object is
// an error naming its source.
func fill(fs *flag.FlagSet, configFile *string, lookupEnv func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := lookupEnv(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
			set[f.Name] = true
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if *configFile == "" {
		return nil
	}
	values, err := ReadFile(*configFile)
	if err != nil {
		return err
	}
	for name, v := range values {
		if fs.Lookup(name) == nil {
			return fmt.Errorf("config %s: unknown option %q", *configFile, name)
		}
		if name == "config" {
			return fmt.Errorf("config %s: a config file cannot name another", *configFile)
		}
		if set[name] {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("config %s: %s: %w", *configFile, name, err)
		}
	}
	return nil
}

// ReadFile reads a config file: one flat JSON object, at most 1 MiB, whose strings, numbers and
// booleans become option text. The daemons' --config and the wallet's config.json use it.
func ReadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("config file %s: larger than %d bytes", path, maxConfigFile)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("config file %s: want a JSON object: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for name, msg := range raw {
		var v any
		d := json.NewDecoder(bytes.NewReader(msg))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("config file %s: %s: %w", path, name, err)
		}
		switch v := v.(type) {
		case string:
			out[name] = v
		case json.Number:
			out[name] = v.String()
		case bool:
			out[name] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("config file %s: %s: want a string, number or boolean", path, name)
		}
	}
	return out, nil
}
