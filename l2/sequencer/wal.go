package sequencer

import (
	"errors"

	"github.com/cockroachdb/pebble"
)

// walLog is the write-ahead log of acknowledged transactions (keys w/<seq>), written by one
// committer goroutine: group commit, so that concurrent sends share one fsync.
type walLog struct {
	db *store
	ch chan walReq // closed by Stop once no send is in flight
}

type walReq struct {
	seq  uint64
	raw  []byte
	done chan error
}

// append logs raw under seq and returns once it is synced, or why it is not (then it was not
// acknowledged: a storage fault, see store.write).
func (w *walLog) append(seq uint64, raw []byte) error {
	done := make(chan error, 1)
	w.ch <- walReq{seq: seq, raw: raw, done: done}
	return <-done
}

// loop writes every request waiting at the moment into one pebble batch and syncs it once.
func (w *walLog) loop() {
	reqs := make([]walReq, 0, 4096)
	for r := range w.ch {
		reqs = append(reqs[:0], r)
	drain:
		for len(reqs) < cap(reqs) {
			select {
			case r, ok := <-w.ch:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		err := w.commit(reqs)
		for _, r := range reqs {
			r.done <- err
		}
	}
}

func (w *walLog) commit(reqs []walReq) error {
	b := w.db.db.NewBatch()
	var errs []error
	for _, r := range reqs {
		errs = append(errs, b.Set(u64Key(prefixWAL, r.seq), r.raw, nil))
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(err, b.Close())
	}
	return errors.Join(w.db.commit(b, pebble.Sync), b.Close())
}
