package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTerminal answers prompts in order and records them.
type fakeTerminal struct {
	answers []string
	prompts []string
}

func (f *fakeTerminal) ReadPassword(prompt string) ([]byte, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return nil, errors.New("no more input")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestPassphrase(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		src     PassphraseSource
		want    string
		err     error
		prompts int
	}{
		{"file, newline dropped", PassphraseSource{File: file("nl", "from file\n")}, "from file", nil, 0},
		{"file, CRLF dropped", PassphraseSource{File: file("crlf", "from file\r\n")}, "from file", nil, 0},
		{"file, spaces kept", PassphraseSource{File: file("sp", " spaced  \n\n")}, " spaced  \n", nil, 0},
		{"file before env and terminal", PassphraseSource{File: file("f", "file"), LookupEnv: env(map[string]string{PassphraseEnv: "env"}), Terminal: &fakeTerminal{answers: []string{"tty"}}}, "file", nil, 0},
		{"env before terminal", PassphraseSource{LookupEnv: env(map[string]string{PassphraseEnv: "env"}), Terminal: &fakeTerminal{answers: []string{"tty"}}}, "env", nil, 0},
		{"other env vars ignored", PassphraseSource{LookupEnv: env(map[string]string{"PASSPHRASE": "x"}), Terminal: &fakeTerminal{answers: []string{"tty"}}}, "tty", nil, 1},
		{"prompt confirmed", PassphraseSource{Terminal: &fakeTerminal{answers: []string{"tty", "tty"}}, Confirm: true}, "tty", nil, 2},
		{"prompt not confirmed", PassphraseSource{Terminal: &fakeTerminal{answers: []string{"tty", "ttv"}}, Confirm: true}, "", ErrNoPassphrase, 2},
		{"missing file", PassphraseSource{File: filepath.Join(dir, "none")}, "", os.ErrNotExist, 0},
		{"empty file", PassphraseSource{File: file("empty", "\n")}, "", ErrNoPassphrase, 0},
		{"empty env", PassphraseSource{LookupEnv: env(map[string]string{PassphraseEnv: ""})}, "", ErrNoPassphrase, 0},
		{"no source", PassphraseSource{LookupEnv: env(nil)}, "", ErrNoPassphrase, 0},
		{"file too large", PassphraseSource{File: file("big", strings.Repeat("x", maxPassphraseFile+1))}, "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Passphrase(tt.src)
			switch {
			case tt.want != "":
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
			default:
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
			}
			if ft, ok := tt.src.Terminal.(*fakeTerminal); ok && len(ft.prompts) != tt.prompts {
				t.Fatalf("%d prompts, want %d", len(ft.prompts), tt.prompts)
			}
		})
	}
}
