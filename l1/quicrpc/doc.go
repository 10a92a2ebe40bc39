// Package quicrpc is the transport the L1 node serves its endpoints on and that sequencers,
// challengers and wallets call it through: request/response calls and server-push subscriptions
// over QUIC (quic-go), one QUIC stream per call, every message signed with ML-DSA-65 (package
// pqkey). It knows nothing about the L1 state machine: the node mounts handlers by method name.
//
// # Transport
//
// TLS 1.3 only, with X25519MLKEM768 the only key exchange offered or accepted on either side;
// both sides check the negotiated group during the handshake and again after it, and close the
// connection otherwise. The TLS certificate is not the identity (it is self-signed by default and
// not verified): the identity is the validator's ML-DSA-65 key, pinned by clients, and every
// signed message binds the connection's TLS exporter value
//
//	binding = ExportKeyingMaterial("pqbridge/quic-binding/v1", nil, 32)
//
// so a signature made for one connection is worthless on any other, and a man in the middle (who
// necessarily holds two connections with two different exporter values) can neither forward a
// client's requests nor the validator's responses. Dial does not return before the validator has
// signed a response over the new connection's binding, so nothing is sent to an unproven server.
// That response (to quicrpc.hello) carries the server's public key: a client pinning a set of
// validator keys (ClientConfig.ValidatorSet) accepts the connection only if the key is a member
// and signed it, and then that key only (Client.Validator).
//
// # Framing
//
// Every message on a stream is a frame: a 4-byte big-endian length followed by that many bytes
// of RLP. The length is checked against the configured maximum before anything is allocated or
// decoded. A call is one request frame from the client (which then closes its side) and one
// response frame from the server. A subscription is one request frame, one response frame (the
// acknowledgement) and then event frames until either side ends the stream.
//
// # Envelopes
//
// Request (RLP list):
//
//	[method string, chain ID u64, sender public key (1952 B), nonce u64, binding (32 B),
//	 payload bytes, signature (3309 B)]
//
// signed by the sender with pqkey.ContextRequest over (chain ID, nonce, RLP([method, sender,
// binding, payload])) — pqkey prefixes chain ID and nonce itself. The request hash is keccak256
// of the whole request frame body, signature included.
//
// Response and event (RLP list):
//
//	[request hash (32 B), sequence u64, status u64, error string, payload bytes, signature]
//
// signed by the validator over (chain ID, sequence, RLP([request hash, binding, status, error,
// payload])) with pqkey.ContextResponse for the reply to a request (sequence 0) and
// pqkey.ContextEvent for the events of a subscription (sequence 1, 2, ... without gaps).
//
// # Rejections
//
// What the server can reject before it has verified the sender's signature (rate limit, size,
// malformed frame, chain ID, binding, unknown method, signature) it rejects by resetting the
// stream with an application error code, without signing anything: signing costs ~100 µs and an
// unauthenticated peer must not be able to make the validator spend it. Those codes are
// unauthenticated and only ever turn into errors. Everything after the signature check (replay,
// handler errors, results) is a signed response.
//
// # Replay
//
// Nonces are per sender and per connection: the client numbers its requests 1, 2, 3, ... on each
// connection and the server accepts each nonce at most once within a sliding window of
// replayWindowSize above the highest seen (requests on concurrent streams may arrive out of
// order). Because the signed bytes include the connection's binding, an envelope can only ever be
// valid on the connection it was made for, so this state lives and dies with the connection:
// replay protection holds for the server's whole lifetime with memory bounded by the live
// connections, and no eviction can reopen a window. Parsed sender keys are kept in a bounded
// server-wide LRU so each request does not re-expand the ML-DSA matrix.
//
// # Admission
//
// A connection is admitted in two steps (admission.go, docs/l1.md §6): before its handshake, by
// the server's connection limit, a per-source-address cap (IPv6 per /64) and a per-address
// handshake token bucket, refused with QUIC CONNECTION_REFUSED at no cryptographic cost; then at
// its first verified request, whose sender key names it, by a per-key cap and a share of slots
// reserved for keys the ServerConfig.Priority callback favours (stake or L1 balance), refused by
// closing the connection with the reason. A connection that sends no signed request soon is
// closed. Concurrent streams are capped per connection and per source address. Refusals are
// counted by reason (Server.ConnRefusals, Server.StreamRefusals); Dial returns ErrRefused.
//
// # Restarts
//
// The server's QUIC stateless reset key is derived from the validator key, so a server restarted
// on the same address answers a request on a connection of its previous run with a stateless
// reset (RFC 9000 §10.3) and the client's connection ends at once (Client.Done, Client.Err)
// instead of at the idle timeout; l1client redials on it.
package quicrpc
