package quicrpc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/quic-go/quic-go"
)

const (
	alpn                  = "pqbridge-l1/1"
	bindingLabel          = "pqbridge/quic-binding/v1"
	tlsServerName         = "pqbridge-l1" // the certificate is not verified; the name is for SNI only
	alertHandshakeFailure = 40            // TLS alert sent when no key exchange group is shared
)

// postQuantumGroups is the only key exchange either side offers or accepts.
var postQuantumGroups = []tls.CurveID{tls.X25519MLKEM768}

// checkPostQuantum is the VerifyConnection hook of both sides: crypto/tls already refuses every
// other group given CurvePreferences, this makes the requirement explicit and survives a
// misconfigured tls.Config.
func checkPostQuantum(cs tls.ConnectionState) error {
	if cs.Version != tls.VersionTLS13 {
		return fmt.Errorf("%w: TLS version %#x", ErrNotPostQuantum, cs.Version)
	}
	if cs.CurveID != tls.X25519MLKEM768 {
		return fmt.Errorf("%w: negotiated %v", ErrNotPostQuantum, cs.CurveID)
	}
	return nil
}

func serverTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		CurvePreferences:       postQuantumGroups,
		Certificates:           []tls.Certificate{cert},
		NextProtos:             []string{alpn},
		SessionTicketsDisabled: true, // every connection does a full hybrid key exchange
		VerifyConnection:       checkPostQuantum,
	}
}

func clientTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: postQuantumGroups,
		NextProtos:       []string{alpn},
		ServerName:       tlsServerName,
		// The certificate proves nothing here: the validator's ML-DSA-65 key, pinned by the
		// client, signs over this connection's exporter value before Dial returns.
		InsecureSkipVerify: true,
		VerifyConnection:   checkPostQuantum,
	}
}

// connBinding checks the negotiated group of an established connection and returns its channel
// binding value.
func connBinding(c *quic.Conn) ([]byte, error) {
	cs := c.ConnectionState().TLS
	if err := checkPostQuantum(cs); err != nil {
		return nil, err
	}
	b, err := cs.ExportKeyingMaterial(bindingLabel, nil, bindingSize)
	if err != nil {
		return nil, fmt.Errorf("quicrpc: TLS exporter: %w", err)
	}
	return b, nil
}

// handshakeError names a failed handshake: refused by the server's admission limits before it
// started (CONNECTION_REFUSED), or what a crypto failure almost always is here, a peer that does
// not offer X25519MLKEM768 (crypto/tls answers that with a handshake_failure alert).
func handshakeError(err error) error {
	var te *quic.TransportError
	if errors.As(err, &te) && te.Remote && te.ErrorCode == quic.ConnectionRefused {
		return fmt.Errorf("%w before the handshake (server full, per-address connection cap or handshake rate; retry later): %v", ErrRefused, err)
	}
	if errors.As(err, &te) && te.ErrorCode.IsCryptoError() {
		if errors.Is(err, ErrNotPostQuantum) || uint8(te.ErrorCode-0x100) == alertHandshakeFailure {
			return fmt.Errorf("%w: %v", ErrNotPostQuantum, err)
		}
	}
	return err
}

// selfSignedCertificate makes a throwaway TLS certificate for a server given none.
func selfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("quicrpc: TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("quicrpc: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: tlsServerName},
		DNSNames:     []string{tlsServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("quicrpc: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
