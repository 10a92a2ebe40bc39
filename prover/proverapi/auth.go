package proverapi

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// LoopbackDefault is addr with the loopback host when it names none: "" is 127.0.0.1:0 and
// ":8646" is 127.0.0.1:8646. Other addresses are returned as they are.
func LoopbackDefault(addr string) string {
	if addr == "" {
		return "127.0.0.1:0"
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// authorized serves only requests bearing the server's token.
func (s *Server) authorized(next http.Handler) http.Handler {
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), want) != 1 {
			s.log.Warn("prover API: request without the token refused", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, CodeAuth, "this prover needs a bearer token (Authorization: Bearer TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
