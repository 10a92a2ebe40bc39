package sequencer

import (
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
)

// TestSnapshotRetentionKeepsPinned: besides the newest two snapshots, the newest one at or below
// the settlement engine's pin (the block before its oldest batch not final) survives later
// snapshots, and goes once the pin moves past a newer one.
func TestSnapshotRetentionKeepsPinned(t *testing.T) {
	st := &store{dir: t.TempDir(), fs: vfs.Default}
	write := func(number, pin uint64) {
		t.Helper()
		if err := st.writeSnapshot(number, []byte{byte(number)}, pin); err != nil {
			t.Fatal(err)
		}
	}
	want := func(nums ...uint64) {
		t.Helper()
		got, err := st.snapshots()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, nums) {
			t.Fatalf("snapshots %v, want %v", got, nums)
		}
	}
	for _, n := range []uint64{3, 6, 9} {
		write(n, 0)
	}
	want(9, 6) // no pin: the newest two
	for _, n := range []uint64{12, 15, 18, 21} {
		write(n, 13) // a batch not final starts in block 14
	}
	want(21, 18, 12)
	write(24, 13)
	want(24, 21, 12)
	write(27, 20) // the pin moves: 18 is its snapshot now, but it is gone; 12 is still the newest at or below
	want(27, 24, 12)
	write(30, 25) // 24 is at or below the pin
	want(30, 27, 24)
	write(33, 40) // the pin is above the newest two: nothing else is kept
	want(33, 30)
}
