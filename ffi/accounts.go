package ffi

import "encoding/binary"

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
	return Restore(snapshotImage(depth, accounts, root), capacityHint)
}

// snapshotImage writes the image of docs/protocol.md §9; the checks are left to the importer.
func snapshotImage(depth uint32, accounts []IndexedAccount, root [32]byte) []byte {
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
