package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// machine is what the report says about where and on what it ran.
type machine struct {
	CPU        string
	Cores      int
	IFMA       bool // AVX-512 IFMA, the core's fast Poseidon2 path
	GoVersion  string
	ZigVersion string
	Commit     string
	Dirty      int // files that differ from the commit (git status --porcelain), before the run
	Date       time.Time
	LoadBefore string
	LoadAfter  string
}

func probeMachine(ctx context.Context) machine {
	m := machine{Cores: runtime.NumCPU(), Date: time.Now().UTC(), LoadBefore: loadAverage()}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "model name":
				if m.CPU == "" {
					m.CPU = strings.TrimSpace(v)
				}
			case "flags":
				m.IFMA = m.IFMA || strings.Contains(" "+strings.TrimSpace(v)+" ", " avx512ifma ")
			}
		}
	}
	m.GoVersion = output(ctx, "go", "env", "GOVERSION")
	m.ZigVersion = output(ctx, zigPath(), "version")
	m.Commit = output(ctx, "git", "rev-parse", "HEAD")
	if st := output(ctx, "git", "status", "--porcelain"); st != "" {
		m.Dirty = len(strings.Split(st, "\n"))
	}
	return m
}

// zigPath is the zig make uses (it passes ZIG), else the one on PATH, else the one make installs.
func zigPath() string {
	if z := os.Getenv("ZIG"); z != "" {
		return z
	}
	if z, err := exec.LookPath("zig"); err == nil {
		return z
	}
	return filepath.Join(".tools", "zig", "ziglang", "zig")
}

// output is the trimmed standard output of a command, or "" if it fails.
func output(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// loadAverage is the 1, 5 and 15 minute load averages, a measure of how shared the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
