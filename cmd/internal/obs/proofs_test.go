package obs

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestProofs: <daemon>_proofs_total has every outcome from the start, and only proofs made are
// timed.
func TestProofs(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewProofs(reg, "test", []string{"ok", "failed", "cancelled"}, "count", "seconds")
	check := func(when string, want map[string]float64, wantTimed uint64) {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got, timed := map[string]float64{}, uint64(0)
		for _, f := range families {
			for _, m := range f.GetMetric() {
				switch f.GetName() {
				case "test_proofs_total":
					got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
				case "test_proof_seconds":
					timed = m.GetHistogram().GetSampleCount()
				default:
					t.Errorf("%s: unexpected metric %s", when, f.GetName())
				}
			}
		}
		if len(got) != len(want) || timed != wantTimed {
			t.Errorf("%s: counts %v and %d timed, want %v and %d", when, got, timed, want, wantTimed)
		}
		for o, n := range want {
			if got[o] != n {
				t.Errorf("%s: outcome %s counted %v, want %v", when, o, got[o], n)
			}
		}
	}
	check("at the start", map[string]float64{"ok": 0, "failed": 0, "cancelled": 0}, 0)
	p.Made(time.Second)
	p.Made(2 * time.Second)
	p.Missed("failed")
	check("after 2 made and 1 failed", map[string]float64{"ok": 2, "failed": 1, "cancelled": 0}, 2)
}
