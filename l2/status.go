package l2

import "fmt"

// Status is the per-transaction result code of docs §7.1.
type Status uint8

// Status codes (docs §7.1). A failing transaction leaves the state unchanged.
const (
	StatusOK                  Status = 0
	StatusIndexOutOfRange     Status = 1
	StatusSenderNotFound      Status = 2
	StatusRecipientNotFound   Status = 3
	StatusBadNonce            Status = 4
	StatusNonceExhausted      Status = 5
	StatusInsufficientBalance Status = 6
	StatusBalanceOverflow     Status = 7
	StatusPubkeyMismatch      Status = 8
	StatusBadSignature        Status = 9
	StatusDepositPlaceable    Status = 10
	StatusKeyKindMismatch     Status = 11
)

var statusNames = [...]string{
	StatusOK:                  "ok",
	StatusIndexOutOfRange:     "index_out_of_range",
	StatusSenderNotFound:      "sender_not_found",
	StatusRecipientNotFound:   "recipient_not_found",
	StatusBadNonce:            "bad_nonce",
	StatusNonceExhausted:      "nonce_exhausted",
	StatusInsufficientBalance: "insufficient_balance",
	StatusBalanceOverflow:     "balance_overflow",
	StatusPubkeyMismatch:      "pubkey_mismatch",
	StatusBadSignature:        "bad_signature",
	StatusDepositPlaceable:    "deposit_placeable",
	StatusKeyKindMismatch:     "key_kind_mismatch",
}

// String returns the name of the status in docs §7.1.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}
