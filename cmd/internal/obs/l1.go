package obs

// L1Conn is the connection to L1 as the metrics read it: *l1client.Client.
type L1Conn interface {
	Connected() bool
	Reconnects() uint64
}

// L1Connection emits <daemon>_l1_connected and <daemon>_l1_reconnects_total, the same two
// metrics for every daemon that talks to L1.
func L1Connection(e *Emitter, daemon string, c L1Conn) {
	e.Bool(daemon+"_l1_connected", "1 while connected to an L1 node, 0 while redialling.", c.Connected())
	e.Counter(daemon+"_l1_reconnects_total", "Connections to an L1 node made after the first (L1 restarts, failovers).", float64(c.Reconnects()))
}
