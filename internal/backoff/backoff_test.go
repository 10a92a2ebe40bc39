package backoff

import (
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	const base, limit = 100 * time.Millisecond, 5 * time.Second
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, base}, {1, base}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {6, 3200 * time.Millisecond},
		{7, limit}, {64, limit}, {1 << 30, limit}} {
		if got := Ceiling(base, limit, c.n); got != c.want {
			t.Errorf("Ceiling(%v, %v, %d) = %v, want %v", base, limit, c.n, got, c.want)
		}
	}
	if got := Ceiling(0, limit, 3); got != limit {
		t.Errorf("zero base: %v, want the limit", got)
	}
	if got := Ceiling(time.Duration(1<<62), time.Duration(1<<62+1), 5); got != time.Duration(1<<62+1) {
		t.Errorf("no overflow past the limit: %v", got)
	}
}

func TestFull(t *testing.T) {
	const ceil = 10 * time.Millisecond
	seen := map[bool]bool{}
	for range 1000 {
		d := Full(ceil)
		if d < 0 || d > ceil {
			t.Fatalf("Full(%v) = %v, outside [0, ceiling]", ceil, d)
		}
		seen[d < ceil/2] = true
	}
	if !seen[true] || !seen[false] {
		t.Fatalf("1000 draws all in one half of [0, %v]", ceil)
	}
	if d := Full(0); d != 0 {
		t.Fatalf("Full(0) = %v", d)
	}
}
