package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// ui is what a newcomer reads: step headers, the commands run and their output, progress
// lines on waits (redrawn in place on a terminal, one line at the end otherwise) and the
// summary.
type ui struct {
	w    io.Writer
	live bool
	mu   sync.Mutex
}

func newUI(w io.Writer) *ui {
	live := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			live = os.Getenv("TERM") != "dumb"
		}
	}
	return &ui{w: w, live: live}
}

func (u *ui) printf(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintf(u.w, format, args...)
}

func (u *ui) bold(s string) string {
	if !u.live {
		return s
	}
	return "\033[1m" + s + "\033[0m"
}

func (u *ui) header(title string) {
	u.printf("\n%s\n%s\n", u.bold(title), strings.Repeat("─", len([]rune(title))))
}

func (u *ui) step(n, total int, title string) {
	u.printf("\n%s\n", u.bold(fmt.Sprintf("[%d/%d] %s", n, total, title)))
}

func (u *ui) command(c string) { u.printf("  $ %s\n", c) }

func (u *ui) output(out string) {
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return
	}
	u.printf("    %s\n", strings.ReplaceAll(out, "\n", "\n    "))
}

func (u *ui) ok(format string, args ...any) {
	mark := "✓"
	if u.live {
		mark = "\033[32m✓\033[0m"
	}
	u.printf("  %s %s\n", mark, fmt.Sprintf(format, args...))
}

func (u *ui) note(format string, args ...any) { u.printf("  %s\n", fmt.Sprintf(format, args...)) }

func (u *ui) failed(err error) {
	mark := "✗"
	if u.live {
		mark = "\033[31m✗\033[0m"
	}
	u.printf("\n%s %v\n", mark, err)
}

// task prints a one-line task and returns the function that ends it with its time.
func (u *ui) task(what string) func(extra string) {
	start := time.Now()
	u.printf("  %s … ", what)
	return func(extra string) {
		if extra != "" {
			extra = ", " + extra
		}
		u.printf("done in %v%s\n", time.Since(start).Round(10*time.Millisecond), extra)
	}
}

// progress is a wait shown as a status line: what, elapsed time and, when the total is known,
// a bar of done/total (L1 blocks of a challenge window, say).
type progress struct {
	u     *ui
	what  string
	start time.Time
}

func (u *ui) progress(what string) *progress {
	return &progress{u: u, what: what, start: time.Now()}
}

// update redraws the line (on a terminal) with status and, if total > 0, a bar of done/total
// (L1 blocks of a challenge window, say).
func (p *progress) update(status string, done, total uint64) {
	gauge := ""
	if total > 0 {
		gauge = fmt.Sprintf("%s %d/%d", bar(float64(min(done, total))/float64(total)), min(done, total), total)
	}
	p.draw(gauge, status)
}

// updateTime redraws the line with status and, if estimate > 0, a bar of elapsed against it.
func (p *progress) updateTime(status string, elapsed, estimate time.Duration) {
	gauge := ""
	if estimate > 0 {
		gauge = fmt.Sprintf("%s %.1fs / ~%.1fs", bar(float64(elapsed)/float64(estimate)), elapsed.Seconds(), estimate.Seconds())
	}
	p.draw(gauge, status)
}

func (p *progress) draw(gauge, status string) {
	if !p.u.live {
		return
	}
	line := "  " + p.what
	for _, part := range []string{gauge, status} {
		if part != "" {
			line += " " + part
		}
	}
	p.u.printf("\r\033[K%s (%v)", line, time.Since(p.start).Round(100*time.Millisecond))
}

// end finishes the line with a result.
func (p *progress) end(result string) {
	if p.u.live {
		p.u.printf("\r\033[K")
	}
	p.u.ok("%s: %s (%v)", p.what, result, time.Since(p.start).Round(100*time.Millisecond))
}

// bar draws a fraction (clamped below 1: a bar is full only when its wait ends) as
// [####....].
func bar(frac float64) string {
	const width = 24
	f := min(max(int(frac*width), 0), width-1)
	return "[" + strings.Repeat("#", f) + strings.Repeat(".", width-f) + "]"
}

// httpOK reports whether GET url answers 200.
func httpOK(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
