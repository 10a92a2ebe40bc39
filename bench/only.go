package main

import (
	"fmt"
	"slices"
	"strings"
)

// notSelected starts the reason of a step -only left out.
const notSelected = "not selected"

// selectOnly keeps the steps named in ids (comma-separated step ids) and marks every other one
// skipped as not selected; an unknown id is an error that lists the known ones.
func (s *suite) selectOnly(ids string) error {
	want := strings.Split(ids, ",")
	var known []string
	for _, st := range s.steps {
		known = append(known, st.id)
	}
	for _, id := range want {
		if !slices.Contains(known, id) {
			return fmt.Errorf("-only: no step %q (steps: %s)", id, strings.Join(known, ", "))
		}
	}
	for i := range s.steps {
		if !slices.Contains(want, s.steps[i].id) {
			s.steps[i].skip = notSelected + " (-only " + ids + ")"
		}
	}
	return nil
}

// keepPrevious puts back, for every step this run did not select, its result from the previous
// run in the same directory (prev, from its results.json), and returns the ids it kept.
func keepPrevious(res, prev *results) []string {
	var kept []string
	for id, old := range prev.steps {
		cur := res.steps[id]
		if cur == nil || (cur.status == statusSkipped && strings.HasPrefix(cur.reason, notSelected)) {
			res.steps[id] = old
			if old.status == statusOK {
				kept = append(kept, id)
			}
		}
	}
	slices.Sort(kept)
	return kept
}
