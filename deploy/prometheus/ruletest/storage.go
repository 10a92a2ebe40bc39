// Package ruletest evaluates deploy/prometheus/alerts.yml with Prometheus's own rule parser and
// PromQL engine against the series files in testdata (promtool's unit-test format). It is a
// module of its own so that the main module does not depend on Prometheus.
package ruletest

import (
	"context"
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// series is one input series: its labels and its float samples in time order.
type series struct {
	lset labels.Labels
	ts   []int64 // milliseconds
	vs   []float64
}

// memStore is an in-memory storage.Queryable over fixed series, all of them in every querier
// (the engine bounds the samples it reads by time itself).
type memStore struct{ series []series }

func (m *memStore) Querier(int64, int64) (storage.Querier, error) { return m, nil }

func (m *memStore) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, s := range m.series {
		if matches(s.lset, ms) {
			out = append(out, listSeries(s))
		}
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels(), out[j].Labels()) < 0 })
	return &seriesSet{list: out, i: -1}
}

func (m *memStore) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range m.series {
		if v := s.lset.Get(name); v != "" && matches(s.lset, ms) && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out, nil, nil
}

func (m *memStore) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range m.series {
		if !matches(s.lset, ms) {
			continue
		}
		s.lset.Range(func(l labels.Label) {
			if !seen[l.Name] {
				seen[l.Name] = true
				out = append(out, l.Name)
			}
		})
	}
	sort.Strings(out)
	return out, nil, nil
}

func (m *memStore) Close() error { return nil }

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func listSeries(s series) storage.Series {
	return &storage.SeriesEntry{Lset: s.lset, SampleIteratorFn: func(chunkenc.Iterator) chunkenc.Iterator {
		return &floatIter{s: s, i: -1}
	}}
}

type seriesSet struct {
	list []storage.Series
	i    int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *seriesSet) At() storage.Series                { return s.list[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// floatIter iterates one series' float samples (chunkenc.Iterator).
type floatIter struct {
	s series
	i int
}

func (it *floatIter) Next() chunkenc.ValueType {
	if it.i+1 >= len(it.s.ts) {
		it.i = len(it.s.ts)
		return chunkenc.ValNone
	}
	it.i++
	return chunkenc.ValFloat
}

func (it *floatIter) Seek(t int64) chunkenc.ValueType {
	if it.i < 0 {
		it.i = 0
	}
	for ; it.i < len(it.s.ts); it.i++ {
		if it.s.ts[it.i] >= t {
			return chunkenc.ValFloat
		}
	}
	return chunkenc.ValNone
}

func (it *floatIter) At() (int64, float64) { return it.s.ts[it.i], it.s.vs[it.i] }
func (it *floatIter) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return it.s.ts[it.i], nil
}
func (it *floatIter) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.s.ts[it.i], nil
}
func (it *floatIter) AtT() int64  { return it.s.ts[it.i] }
func (it *floatIter) AtST() int64 { return 0 }
func (it *floatIter) Err() error  { return nil }
