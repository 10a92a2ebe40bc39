package keystore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := ReadTokenFile(write("good", "  0123456789abcdefXYZ\n", 0o600)); err != nil || tok != "0123456789abcdefXYZ" {
		t.Fatalf("good token: %q %v", tok, err)
	}
	for _, tc := range []struct{ path, want string }{
		{write("open", "0123456789abcdefXYZ", 0o644), "want 0600"},
		{write("short", "0123456789", 0o600), "at least 16"},
		{write("two", "0123456789abcdef 0123456789abcdef", 0o600), "no white space"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		if _, err := ReadTokenFile(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}
