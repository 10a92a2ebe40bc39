package obs

import "github.com/prometheus/client_golang/prometheus"

// Snapshot returns a collector that calls collect on every scrape: collect reads the daemon's
// getters once and emits each value, so a scrape costs one read of the daemon's status however
// many metrics it yields. It is an unchecked collector (it describes nothing up front) because
// label values such as rejection reasons are known only when read.
func Snapshot(collect func(e *Emitter)) prometheus.Collector { return snapshot(collect) }

type snapshot func(e *Emitter)

func (snapshot) Describe(chan<- *prometheus.Desc) {}

func (f snapshot) Collect(ch chan<- prometheus.Metric) { f(&Emitter{ch: ch}) }

// Emitter sends the metrics of one scrape.
type Emitter struct{ ch chan<- prometheus.Metric }

// Gauge emits a gauge. labels are name, value pairs.
func (e *Emitter) Gauge(name, help string, v float64, labels ...string) {
	e.emit(name, help, prometheus.GaugeValue, v, labels)
}

// Counter emits a counter: a total that only grows while the daemon runs.
func (e *Emitter) Counter(name, help string, v float64, labels ...string) {
	e.emit(name, help, prometheus.CounterValue, v, labels)
}

// Bool emits a gauge that is 1 if ok, else 0.
func (e *Emitter) Bool(name, help string, ok bool, labels ...string) {
	v := 0.0
	if ok {
		v = 1
	}
	e.Gauge(name, help, v, labels...)
}

// Collector emits the metrics of c (a histogram the snapshot fed, for instance).
func (e *Emitter) Collector(c prometheus.Collector) { c.Collect(e.ch) }

func (e *Emitter) emit(name, help string, t prometheus.ValueType, v float64, labels []string) {
	names := make([]string, 0, len(labels)/2)
	values := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		names, values = append(names, labels[i]), append(values, labels[i+1])
	}
	e.ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, names, nil), t, v, values...)
}
