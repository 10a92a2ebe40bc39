package sequencer

import (
	"sync"
	"time"

	"github.com/pqbridge/pqbridge/l2"
)

// BlockEvent announces a durable block: its header and the hashes of its transactions (deposits
// included), in block order.
type BlockEvent struct {
	Header   Header
	Hash     [32]byte
	TxHashes [][32]byte
	// BuildTime is how long executing and storing the block took (deposits already fetched).
	BuildTime time.Duration
}

// feed is the subscribers to durable blocks.
type feed struct {
	mu   sync.Mutex
	subs map[chan *BlockEvent]struct{}
}

// Subscribe returns a channel of durable blocks. A subscriber that falls 256 blocks behind is
// dropped (its channel closed). cancel unsubscribes.
func (s *Sequencer) Subscribe() (<-chan *BlockEvent, func()) {
	f := &s.feed
	ch := make(chan *BlockEvent, 256)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
		f.mu.Unlock()
	}
}

func (f *feed) publish(h *Header, data []byte, buildTime time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) == 0 {
		return
	}
	ev := &BlockEvent{Header: *h, Hash: h.Hash(), TxHashes: make([][32]byte, len(data)/l2.TxSize), BuildTime: buildTime}
	for k := range ev.TxHashes {
		ev.TxHashes[k] = TxHash(data[k*l2.TxSize : (k+1)*l2.TxSize])
	}
	for ch := range f.subs {
		select {
		case ch <- ev:
		default:
			delete(f.subs, ch)
			close(ch)
		}
	}
}

// closeAll ends every subscription (Stop).
func (f *feed) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		close(ch)
		delete(f.subs, ch)
	}
}
