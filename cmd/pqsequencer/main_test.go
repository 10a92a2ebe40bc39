package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// TestConnectL1Refuses: options L1 would make fail later are refused before anything starts.
func TestConnectL1Refuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    config
		want string
	}{
		{"validity without a prover", config{l1: "127.0.0.1:1", mode: "validity"}, errNoProver.Error()},
		{"unknown mode", config{l1: "127.0.0.1:1", mode: "fast"}, "want auto, optimistic or validity"},
		{"dev with l1", config{l1: "127.0.0.1:1", mode: "auto", seq: devConfig()}, "exclude each other"},
		{"no validator key", config{l1: "127.0.0.1:1", mode: "optimistic"}, "-validator-pubkey-file or -l1-validators is required"},
		{"key and set", config{l1: "127.0.0.1:1", mode: "optimistic", validatorPubFile: "v.pub", l1Validators: "v.json"}, "exclude each other"},
		{"missing set file", config{l1: "127.0.0.1:1", mode: "optimistic", l1Validators: "/nonexistent/validators.json"},
			"-l1-validators: validator set: open /nonexistent/validators.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := connectL1(context.Background(), &tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.name == "validity without a prover" && !errors.Is(err, errNoProver) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func devConfig() (c sequencer.Config) { c.Dev = true; return c }
