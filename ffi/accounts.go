package ffi

import (
	"encoding/binary"
	"fmt"
)

// snapshotMagic opens every snapshot image (docs/protocol.md §9).
const snapshotMagic = "PQSNAP01"

// IndexedAccount is a non-empty account of the state tree with its index: one entry of a
// snapshot image.
type IndexedAccount struct {
	Index uint32
	Account
}

// RestoreAccounts creates a state holding exactly accounts (strictly increasing indices; Exists
// is not read: every entry is an account) whose root the caller already knows, as a store that
// keeps a state account by account does. It writes the snapshot image of docs/protocol.md §9 and
// restores it, so the core checks everything [Restore] checks, and that the accounts give root.
func RestoreAccounts(depth uint32, accounts []IndexedAccount, root [32]byte, capacityHint uint64) (*Core, error) {
	return Restore(EncodeSnapshot(depth, accounts, root), capacityHint)
}

// EncodeSnapshot writes the snapshot image of docs/protocol.md §9 of accounts (in the order
// given) and root. It is the one Go writer of the image; the checks are left to the importer
// ([Restore], which the core does, or a reader of [WalkSnapshot]).
func EncodeSnapshot(depth uint32, accounts []IndexedAccount, root [32]byte) []byte {
	b := make([]byte, 0, snapshotHeaderSize+len(accounts)*snapshotEntrySize+snapshotTrailerSize)
	b = append(b, snapshotMagic...)
	b = append(b, byte(min(depth, 255)), 0, 0, 0, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(len(accounts)))
	for i := range accounts {
		a := &accounts[i]
		b = binary.BigEndian.AppendUint32(b, a.Index)
		b = append(b, a.PubKeyX[:]...)
		b = append(b, a.PubKeyY[:]...)
		b = binary.BigEndian.AppendUint64(b, a.Balance)
		b = binary.BigEndian.AppendUint64(b, a.Nonce)
		b = append(b, 0, 0, 0, 0)
	}
	return append(b, root[:]...)
}

// WalkSnapshot is the one Go reader of the image of docs/protocol.md §9: it checks the layout
// (magic, a length that matches the count) and calls each for every entry in image order, with
// Exists set, then returns the image's depth and root. The contents (order, canonical words,
// padding, the root) are the importer's to check: [Restore] checks them all.
func WalkSnapshot(img []byte, each func(a *IndexedAccount)) (depth uint32, root [32]byte, err error) {
	if len(img) < snapshotHeaderSize+snapshotTrailerSize || string(img[:len(snapshotMagic)]) != snapshotMagic {
		return 0, root, fmt.Errorf("ffi: snapshot of %d bytes: bad header: %w", len(img), ErrSnapshotInvalid)
	}
	n := binary.BigEndian.Uint64(img[16:24])
	body := uint64(len(img) - snapshotHeaderSize - snapshotTrailerSize)
	if body%snapshotEntrySize != 0 || body/snapshotEntrySize != n {
		return 0, root, fmt.Errorf("ffi: snapshot of %d bytes for %d accounts: %w", len(img), n, ErrSnapshotInvalid)
	}
	var a IndexedAccount
	a.Exists = true
	for off := snapshotHeaderSize; off+snapshotEntrySize <= len(img)-snapshotTrailerSize; off += snapshotEntrySize {
		e := img[off : off+snapshotEntrySize]
		a.Index = binary.BigEndian.Uint32(e[0:4])
		copy(a.PubKeyX[:], e[4:36])
		copy(a.PubKeyY[:], e[36:68])
		a.Balance = binary.BigEndian.Uint64(e[68:76])
		a.Nonce = binary.BigEndian.Uint64(e[76:84])
		each(&a)
	}
	return uint32(img[8]), [32]byte(img[len(img)-snapshotTrailerSize:]), nil
}
