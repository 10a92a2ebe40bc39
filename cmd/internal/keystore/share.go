package keystore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
	"golang.org/x/crypto/cryptobyte"
)

// Shamir sharing is over the scalar field of Ristretto255 (order about 2^252, constant-time in
// circl), which cannot hold a 256-bit seed: the seed is shared as two independent halves of 16
// bytes, each the scalar whose 32-byte little-endian encoding is the half followed by 16 zero
// bytes. Both halves use the same share indices, so a share is one index and two scalars.
const (
	halfSize       = SeedSize / 2
	scalarSize     = 32
	shareValueSize = 2 * scalarSize
	shareNonceSize = 32 // hides the share value in its commitment

	minThreshold = 2   // K = 1 would put the whole key in every share
	maxShares    = 255 // indices fit a byte; more custodians than any operator has
)

var shareGroup = group.Ristretto255

// Share is one of the N shares of a key split K-of-N. All fields but the value are public:
// every share carries the commitments of all N shares, so each share can be checked on its own
// and against the others.
type Share struct {
	Public      Public
	KeyID       KeyID
	Threshold   int // K: shares needed to recombine
	Total       int // N: shares made
	Index       int // 1..N
	SplitID     [32]byte
	Commitments [][32]byte // Commitments[i-1] is the commitment of share i

	// Source names where the share came from (a file) in error messages; it is not stored.
	Source string

	value [shareValueSize]byte
	nonce [shareNonceSize]byte
}

// Split splits k into total shares of which any threshold recombine it.
//
// Each share i gets a random nonce and the commitment
// C_i = SHA-256(tag, key ID, K, N, i, nonce_i, value_i), and every share carries all of
// C_1..C_N and the split ID SHA-256(tag, kind, key ID, K, N, C_1..C_N). Commitments are hashes,
// not Feldman commitments (value·G), which would give the shares away to a quantum adversary.
func Split(k Key, threshold, total int) ([]Share, error) {
	if threshold < minThreshold || total < threshold || total > maxShares {
		return nil, fmt.Errorf("%w: %d-of-%d, want %d <= K <= N <= %d", ErrBadParams, threshold, total, minThreshold, maxShares)
	}
	pub, err := k.Public()
	if err != nil {
		return nil, err
	}
	var halves [2][]secretsharing.Share
	for h := range halves {
		var enc [scalarSize]byte
		copy(enc[:], k.Seed[h*halfSize:(h+1)*halfSize])
		secret := shareGroup.NewScalar()
		if err := secret.UnmarshalBinary(enc[:]); err != nil {
			return nil, fmt.Errorf("keystore: encoding seed: %w", err)
		}
		halves[h] = secretsharing.New(rand.Reader, uint(threshold-1), secret).Share(uint(total))
	}
	shares := make([]Share, total)
	commitments := make([][32]byte, total)
	for i := range shares {
		s := &shares[i]
		*s = Share{Public: pub, KeyID: pub.ID(), Threshold: threshold, Total: total, Index: i + 1}
		for h := range halves {
			v, err := halves[h][i].Value.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("keystore: encoding share: %w", err)
			}
			copy(s.value[h*scalarSize:], v)
		}
		if _, err := rand.Read(s.nonce[:]); err != nil {
			return nil, fmt.Errorf("keystore: reading randomness: %w", err)
		}
		commitments[i] = s.commitment()
	}
	splitID := splitID(pub.Kind, pub.ID(), threshold, total, commitments)
	for i := range shares {
		shares[i].Commitments = slices.Clone(commitments) // shares are handed to different custodians
		shares[i].SplitID = splitID
	}
	return shares, nil
}

// Verify checks a share on its own: its key ID is the ID of its public part, its split ID
// commits to its commitments, K and N, and its value and nonce open its own commitment. Any
// changed bit of a share fails one of these (or the AEAD of an encrypted share) and is
// ErrTamperedShare naming the share.
func (s *Share) Verify() error {
	switch {
	case s.Public.ID() != s.KeyID:
		return fmt.Errorf("%w: %s: key ID does not match its public part %s", ErrTamperedShare, s.name(), s.Public)
	case s.Threshold < minThreshold || s.Total < s.Threshold || s.Total > maxShares ||
		s.Index < 1 || s.Index > s.Total || len(s.Commitments) != s.Total:
		return fmt.Errorf("%w: %s: index %d of a %d-of-%d split with %d commitments", ErrTamperedShare, s.name(), s.Index, s.Threshold, s.Total, len(s.Commitments))
	case splitID(s.Public.Kind, s.KeyID, s.Threshold, s.Total, s.Commitments) != s.SplitID:
		return fmt.Errorf("%w: %s: commitments, K or N do not match its split ID", ErrTamperedShare, s.name())
	case s.commitment() != s.Commitments[s.Index-1]:
		return fmt.Errorf("%w: %s: value does not match its commitment", ErrTamperedShare, s.name())
	}
	return nil
}

// Combine recombines a key from at least K shares of one split, in memory. It checks, naming
// the shares at fault: each share on its own (Verify), that all are of one key and of one
// split, that no index is given twice, that there are at least K, and finally that the
// recombined seed derives to the shares' public part.
func Combine(shares []Share) (Key, error) {
	if len(shares) == 0 {
		return Key{}, fmt.Errorf("%w: no shares", ErrTooFewShares)
	}
	var errs []error
	for i := range shares {
		if err := shares[i].Verify(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Key{}, errors.Join(errs...)
	}
	if err := oneGroup(shares, "keys", func(s *Share) string { return s.KeyID.short() + " (" + s.Public.String() + ")" }); err != nil {
		return Key{}, err
	}
	if err := oneGroup(shares, "splits of key "+shares[0].Public.String(), func(s *Share) string { return hex.EncodeToString(s.SplitID[:6]) }); err != nil {
		return Key{}, err
	}
	seen := make(map[int]*Share, len(shares))
	for i := range shares {
		s := &shares[i]
		if prev, ok := seen[s.Index]; ok {
			where := ""
			if prev.Source != "" || s.Source != "" {
				where = fmt.Sprintf(" (%s and %s)", prev.Source, s.Source)
			}
			return Key{}, fmt.Errorf("%w: share %d given twice%s", ErrDuplicateShare, s.Index, where)
		}
		seen[s.Index] = s
	}
	first := &shares[0]
	if len(shares) < first.Threshold {
		return Key{}, fmt.Errorf("%w: have %d, need %d", ErrTooFewShares, len(shares), first.Threshold)
	}

	k := Key{Kind: first.Public.Kind}
	for h := range 2 {
		points := make([]secretsharing.Share, first.Threshold)
		for i := range points {
			s := &shares[i]
			id := shareGroup.NewScalar().SetUint64(uint64(s.Index))
			v := shareGroup.NewScalar()
			if err := v.UnmarshalBinary(s.value[h*scalarSize : (h+1)*scalarSize]); err != nil {
				return Key{}, fmt.Errorf("%w: %s: value is not a scalar", ErrTamperedShare, s.name())
			}
			points[i] = secretsharing.Share{ID: id, Value: v}
		}
		secret, err := secretsharing.Recover(uint(first.Threshold-1), points)
		if err != nil {
			return Key{}, fmt.Errorf("keystore: recombining: %w", err)
		}
		enc, err := secret.MarshalBinary()
		if err != nil {
			return Key{}, fmt.Errorf("keystore: recombining: %w", err)
		}
		// A half is below 2^128; anything else means the dealer did not share a seed.
		if !bytes.Equal(enc[halfSize:], make([]byte, scalarSize-halfSize)) {
			clear(enc)
			return Key{}, fmt.Errorf("%w: %s", ErrRecombinedMismatch, first.KeyID)
		}
		copy(k.Seed[h*halfSize:], enc[:halfSize])
		clear(enc)
	}
	got, err := k.Public()
	if err != nil {
		return Key{}, err
	}
	if got != first.Public {
		clear(k.Seed[:])
		return Key{}, fmt.Errorf("%w: shares are of %s, recombined seed gives %s", ErrRecombinedMismatch, first.Public, got)
	}
	return k, nil
}

// oneGroup fails with ErrMismatchedShares, listing the shares of each group, unless all shares
// have the same label.
func oneGroup(shares []Share, what string, label func(*Share) string) error {
	groups := map[string][]string{}
	var order []string
	for i := range shares {
		l := label(&shares[i])
		if _, ok := groups[l]; !ok {
			order = append(order, l)
		}
		groups[l] = append(groups[l], shares[i].name())
	}
	if len(order) == 1 {
		return nil
	}
	parts := make([]string, len(order))
	for i, l := range order {
		parts[i] = l + ": " + strings.Join(groups[l], ", ")
	}
	return fmt.Errorf("%w: shares of %d different %s: %s", ErrMismatchedShares, len(order), what, strings.Join(parts, "; "))
}

func (s *Share) name() string {
	if s.Source == "" {
		return fmt.Sprintf("share %d", s.Index)
	}
	return fmt.Sprintf("share %d (%s)", s.Index, s.Source)
}

func (s *Share) commitment() [32]byte {
	var b cryptobyte.Builder
	addString(&b, "pqbridge/keystore/share-commitment/v1")
	b.AddBytes(s.KeyID[:])
	b.AddUint8(uint8(s.Threshold))
	b.AddUint8(uint8(s.Total))
	b.AddUint8(uint8(s.Index))
	b.AddBytes(s.nonce[:])
	b.AddBytes(s.value[:])
	return sha256.Sum256(b.BytesOrPanic())
}

func splitID(kind Kind, id KeyID, threshold, total int, commitments [][32]byte) [32]byte {
	var b cryptobyte.Builder
	addString(&b, "pqbridge/keystore/split/v1")
	addString(&b, string(kind))
	b.AddBytes(id[:])
	b.AddUint8(uint8(threshold))
	b.AddUint8(uint8(total))
	for _, c := range commitments {
		b.AddBytes(c[:])
	}
	return sha256.Sum256(b.BytesOrPanic())
}

// shareJSON is a share file. The secret part is either in clear ("share") or sealed under a
// passphrase ("crypto", plaintext value || nonce, associated data the clear fields).
type shareJSON struct {
	Format      string           `json:"format"`
	Version     int              `json:"version"`
	Kind        Kind             `json:"kind"`
	Address     string           `json:"address,omitempty"`
	PublicKey   hexBytes         `json:"public_key,omitempty"`
	KeyID       hexBytes         `json:"key_id"`
	Threshold   int              `json:"threshold"`
	Total       int              `json:"shares"`
	Index       int              `json:"index"`
	SplitID     hexBytes         `json:"split_id"`
	Commitments []hexBytes       `json:"commitments"`
	Share       *shareSecretJSON `json:"share,omitempty"`
	Crypto      *sealedJSON      `json:"crypto,omitempty"`
}

type shareSecretJSON struct {
	Value hexBytes `json:"value"`
	Nonce hexBytes `json:"nonce"`
}

// Marshal returns the share file of s with its value in clear: for a custodian who keeps it
// encrypted by other means (an HSM, an encrypted volume, paper).
func (s *Share) Marshal() ([]byte, error) {
	f := s.fileJSON()
	f.Share = &shareSecretJSON{Value: s.value[:], Nonce: s.nonce[:]}
	return json.MarshalIndent(f, "", "  ")
}

// Encrypt returns the share file of s with its value sealed under passphrase.
func (s *Share) Encrypt(passphrase []byte, p Params) ([]byte, error) {
	f := s.fileJSON()
	plaintext := append(s.value[:], s.nonce[:]...)
	defer clear(plaintext)
	sealed, err := seal(s.header(), plaintext, passphrase, p)
	if err != nil {
		return nil, err
	}
	f.Crypto = sealed
	return json.MarshalIndent(f, "", "  ")
}

func (s *Share) fileJSON() shareJSON {
	f := shareJSON{
		Format: formatShare, Version: Version, Kind: s.Public.Kind, KeyID: s.KeyID[:],
		Threshold: s.Threshold, Total: s.Total, Index: s.Index, SplitID: s.SplitID[:],
		Commitments: make([]hexBytes, len(s.Commitments)),
	}
	f.Address, f.PublicKey = jsonPublic(s.Public)
	for i := range s.Commitments {
		f.Commitments[i] = s.Commitments[i][:]
	}
	return f
}

// header is the associated data of an encrypted share: every clear field.
func (s *Share) header() []byte {
	var b cryptobyte.Builder
	addString(&b, formatShare)
	b.AddUint16(Version)
	addString(&b, string(s.Public.Kind))
	addBytes(&b, s.Public.Bytes())
	b.AddBytes(s.KeyID[:])
	b.AddUint8(uint8(s.Threshold))
	b.AddUint8(uint8(s.Total))
	b.AddUint8(uint8(s.Index))
	b.AddBytes(s.SplitID[:])
	for _, c := range s.Commitments {
		b.AddBytes(c[:])
	}
	return b.BytesOrPanic()
}

// ParseShare reads a share file; source names it in errors. passphrase is called only if the
// share is encrypted, so that a CLI prompts only when it must. ParseShare checks the structure;
// Combine (or Verify) checks the share's integrity.
func ParseShare(data []byte, source string, passphrase func() ([]byte, error)) (Share, error) {
	d, err := decodeShare(data)
	if err != nil {
		return Share{}, fmt.Errorf("%s: %w", source, err)
	}
	s := d.share
	s.Source = source
	if d.sealed == nil {
		return s, nil
	}
	if passphrase == nil {
		return Share{}, fmt.Errorf("%s: %w: the share is encrypted", source, ErrNoPassphrase)
	}
	pass, err := passphrase()
	if err != nil {
		return Share{}, fmt.Errorf("%s: %w", source, err)
	}
	plaintext, err := d.sealed.open(s.header(), pass)
	if err != nil {
		return Share{}, fmt.Errorf("%s: %w", source, err)
	}
	defer clear(plaintext)
	copy(s.value[:], plaintext[:shareValueSize])
	copy(s.nonce[:], plaintext[shareValueSize:])
	return s, nil
}

type decodedShare struct {
	share  Share       // value and nonce set only if in clear
	sealed *sealedJSON // nil if in clear
}

// decodeShare parses a share file and checks its structure (sizes, ranges, one secret part).
func decodeShare(data []byte) (*decodedShare, error) {
	format, err := peekFormat(data)
	if err != nil {
		return nil, err
	}
	if format != formatShare {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, format, formatShare)
	}
	var f shareJSON
	if err := decodeStrict(data, &f); err != nil {
		return nil, err
	}
	pub, err := parsePublic(f.Kind, f.Address, f.PublicKey)
	if err != nil {
		return nil, err
	}
	if f.Threshold < minThreshold || f.Total < f.Threshold || f.Total > maxShares || f.Index < 1 || f.Index > f.Total {
		return nil, fmt.Errorf("%w: share %d of a %d-of-%d split", ErrMalformed, f.Index, f.Threshold, f.Total)
	}
	if len(f.KeyID) != 32 || len(f.SplitID) != 32 || len(f.Commitments) != f.Total {
		return nil, fmt.Errorf("%w: key_id, split_id or commitments of the wrong size", ErrMalformed)
	}
	s := Share{Public: pub, Threshold: f.Threshold, Total: f.Total, Index: f.Index, Commitments: make([][32]byte, f.Total)}
	copy(s.KeyID[:], f.KeyID)
	copy(s.SplitID[:], f.SplitID)
	for i, c := range f.Commitments {
		if len(c) != 32 {
			return nil, fmt.Errorf("%w: commitment %d is %d bytes", ErrMalformed, i+1, len(c))
		}
		copy(s.Commitments[i][:], c)
	}
	switch {
	case (f.Share == nil) == (f.Crypto == nil):
		return nil, fmt.Errorf("%w: a share file has exactly one of share and crypto", ErrMalformed)
	case f.Crypto != nil:
		if err := f.Crypto.check(shareValueSize + shareNonceSize); err != nil {
			return nil, err
		}
		return &decodedShare{share: s, sealed: f.Crypto}, nil
	case len(f.Share.Value) != shareValueSize || len(f.Share.Nonce) != shareNonceSize:
		return nil, fmt.Errorf("%w: share value or nonce of the wrong size", ErrMalformed)
	}
	copy(s.value[:], f.Share.Value)
	copy(s.nonce[:], f.Share.Nonce)
	return &decodedShare{share: s}, nil
}

// LoadShares reads and parses share files; passphrase(path) is called for each encrypted one.
// Every file that fails is reported, each named.
func LoadShares(paths []string, passphrase func(path string) ([]byte, error)) ([]Share, error) {
	shares := make([]Share, 0, len(paths))
	var errs []error
	for _, path := range paths {
		data, err := ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var pass func() ([]byte, error)
		if passphrase != nil {
			pass = func() ([]byte, error) { return passphrase(path) }
		}
		s, err := ParseShare(data, path, pass)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		shares = append(shares, s)
	}
	return shares, errors.Join(errs...)
}
