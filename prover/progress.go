package prover

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Progress reports long steps (compile, setup, prove, MPC contributions) as one status line on
// a terminal, redrawn every second: the step, its elapsed time and, when the size of the work
// is known, an estimate from the rates measured on a 2-core machine. gnark's own calls report
// nothing while they run, so the estimate is all there is; on a faster machine the bar simply
// ends early. A nil *Progress reports nothing.
type Progress struct {
	w    io.Writer
	live bool       // w is a terminal: redraw the line every second
	mu   sync.Mutex // one line at a time
}

// NewProgress returns a Progress writing to w (usually os.Stderr); nil w gives nil. When w is
// not a terminal only the end of each step is written, as one line.
func NewProgress(w io.Writer) *Progress {
	if w == nil {
		return nil
	}
	live := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			live = true
		}
	}
	return &Progress{w: w, live: live}
}

// Rates measured with gnark v0.16.3 on 2 cores (docs/prover.md), used only for the estimates.
const (
	setupConstraintsPerSecond = 3_500
	proveConstraintsPerSecond = 70_000
)

// Step starts reporting a step whose expected duration is estimate (0: unknown) and returns
// the function that ends it, printing the final time.
func (p *Progress) Step(name string, estimate time.Duration) (done func()) {
	if p == nil {
		return func() {}
	}
	start := time.Now()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if p.live {
					p.line(name, time.Since(start), estimate, false)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-finished
			p.line(name, time.Since(start), estimate, true)
		})
	}
}

func (p *Progress) line(name string, elapsed, estimate time.Duration, final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed = elapsed.Round(time.Second)
	if final && !p.live {
		fmt.Fprintf(p.w, "%s: done in %v\n", name, elapsed)
		return
	}
	if final {
		fmt.Fprintf(p.w, "\r\033[K%s: done in %v\n", name, elapsed)
		return
	}
	if estimate <= 0 {
		fmt.Fprintf(p.w, "\r\033[K%s: %v", name, elapsed)
		return
	}
	const width = 30
	filled := min(int(float64(width)*float64(elapsed)/float64(estimate)), width-1)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s [%s] %v / ~%v", name, bar, elapsed, estimate.Round(time.Second))
}

// estimate is the expected duration of n constraints at rate constraints per second.
func estimate(n, rate int) time.Duration {
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}
