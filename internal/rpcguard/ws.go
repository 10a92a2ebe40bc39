package rpcguard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true }, // any origin, as before (no cookies, no sessions)
}

// serveWS upgrades r and serves srv on it until the client goes or is disconnected.
func (g *Server) serveWS(w http.ResponseWriter, r *http.Request, srv *rpc.Server) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		g.log.Debug("JSON-RPC: WebSocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	conn.SetReadLimit(g.cfg.WSMessageBytes)
	wc := &wsConn{c: conn, g: g, ip: hostOf(r.RemoteAddr), room: make(chan struct{}, 1), done: make(chan struct{})}
	conn.SetPongHandler(func(string) error { return wc.heard() })
	go wc.ping()
	srv.ServeCodec(rpc.NewCodec(wc), 0)
}

// ping pings the peer every WSPingInterval until the connection closes; its pongs, read with
// the messages, keep the read deadline (heard) ahead.
func (w *wsConn) ping() {
	t := time.NewTicker(w.g.cfg.WSPingInterval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			if err := w.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(w.g.cfg.WSWriteTimeout)); err != nil {
				w.g.log.Debug("JSON-RPC: WebSocket ping failed", "err", err, "remote", w.ip)
			}
		}
	}
}

// heard moves the read deadline: the peer must send a message or a pong within two ping
// intervals and the write timeout.
func (w *wsConn) heard() error {
	return w.c.SetReadDeadline(time.Now().Add(2*w.g.cfg.WSPingInterval + w.g.cfg.WSWriteTimeout))
}

// wsConn is a WebSocket connection as the byte stream rpc.NewCodec reads and writes: one
// message is one JSON value, one Write one answer. Before it reads a message it waits for the
// requests read but not yet answered to be fewer than WSPending and for a token of the IP's rate
// limit, so a client that sends without reading stops being read; an answer it does not take
// within WSWriteTimeout closes the connection.
type wsConn struct {
	c    *websocket.Conn
	g    *Server
	ip   string
	r    *bytes.Reader // the rest of the message being read
	mu   sync.Mutex
	open int           // requests read, not yet answered
	room chan struct{} // signalled by every answer written
	once sync.Once
	done chan struct{} // closed by Close
}

func (w *wsConn) Read(p []byte) (int, error) {
	for {
		if w.r != nil && w.r.Len() > 0 {
			return w.r.Read(p)
		}
		if err := w.next(); err != nil {
			return 0, err
		}
	}
}

// next reads the next message, once the connection may have another request in flight.
func (w *wsConn) next() error {
	for {
		w.mu.Lock()
		full := w.open >= w.g.cfg.WSPending
		w.mu.Unlock()
		if !full {
			break
		}
		select {
		case <-w.room:
		case <-w.done:
			return io.EOF
		}
	}
	waited, err := w.g.limit.wait(w.done, w.ip)
	if waited {
		w.g.refuse("rate_ws_delayed")
	}
	if err != nil {
		return err
	}
	if err := w.heard(); err != nil {
		return err
	}
	_, msg, err := w.c.ReadMessage()
	if err != nil {
		if isTimeout(err) && !w.closed() {
			w.g.refuse("ws_silent_peer")
			w.g.log.Debug("JSON-RPC: WebSocket peer silent (no message, no pong), disconnected", "remote", w.ip)
		}
		if errors.Is(err, websocket.ErrReadLimit) {
			w.g.refuse("ws_message_size")
			w.g.log.Info("JSON-RPC: WebSocket message over the size limit, disconnected", "remote", w.ip, "limit", w.g.cfg.WSMessageBytes)
		}
		return err
	}
	if !json.Valid(msg) {
		// One message must be one JSON value: a value spread over messages would not be bounded
		// by the message size limit.
		w.g.refuse("ws_bad_message")
		return errors.New("rpcguard: a WebSocket message is not one JSON value")
	}
	if wantsAnswer(msg) {
		w.mu.Lock()
		w.open++
		w.mu.Unlock()
	}
	w.r = bytes.NewReader(msg)
	return nil
}

// wantsAnswer: a batch or a call with an id gets an answer; a notification (no id) does not.
func wantsAnswer(msg []byte) bool {
	msg = bytes.TrimLeft(msg, " \t\r\n")
	if len(msg) == 0 || msg[0] != '{' {
		return true
	}
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	return json.Unmarshal(msg, &probe) != nil || len(probe.ID) > 0
}

// Write sends one answer (or subscription notification) as one text message.
func (w *wsConn) Write(p []byte) (int, error) {
	if err := w.c.WriteMessage(websocket.TextMessage, bytes.TrimSuffix(p, []byte{'\n'})); err != nil {
		if (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) && !w.closed() {
			w.g.refuse("ws_not_reading")
			w.g.log.Info("JSON-RPC: WebSocket client not reading its answers, disconnected", "remote", w.ip, "timeout", w.g.cfg.WSWriteTimeout)
		}
		return 0, errors.Join(err, w.Close())
	}
	w.mu.Lock()
	w.open = max(0, w.open-1)
	w.mu.Unlock()
	select {
	case w.room <- struct{}{}:
	default:
	}
	return len(p), nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// SetWriteDeadline is the codec's deadline, at most WSWriteTimeout from now.
func (w *wsConn) SetWriteDeadline(t time.Time) error {
	if limit := time.Now().Add(w.g.cfg.WSWriteTimeout); t.IsZero() || t.After(limit) {
		t = limit
	}
	return w.c.SetWriteDeadline(t)
}

func (w *wsConn) closed() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *wsConn) Close() error {
	var err error
	w.once.Do(func() {
		close(w.done)
		err = w.c.Close()
	})
	return err
}

// RemoteAddr names the client in go-ethereum's logs.
func (w *wsConn) RemoteAddr() string { return w.ip }
