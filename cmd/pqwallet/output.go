package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// printer writes the human-readable form of a result.
type printer struct{ w io.Writer }

func (p *printer) line(format string, args ...any) { fmt.Fprintf(p.w, format+"\n", args...) }

// print writes v as indented JSON with --json, else what human prints.
func (a *app) print(v any, human func(p *printer)) error {
	if a.cfg.json {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(&printer{a.out})
	return nil
}

// progress tells the user what a long step is waiting for, on stderr so that --json output
// stays one document.
func (a *app) progress(format string, args ...any) {
	fmt.Fprintf(a.errOut, format+"\n", args...)
}
