/*
 * pqcore — the pqbridge native execution core (Zig), C ABI.
 *
 * The state transition is specified in docs/protocol.md. This header is hand-written and is the
 * contract between native/src/abi.zig and the Go package ffi/.
 *
 * Rules of the boundary:
 *  - Every function returns a pq_status (0 = ok). Nothing panics across the boundary.
 *  - All buffers are provided by the caller; the core never keeps a pointer to them after the call.
 *    A NULL pointer with length 0 is an empty buffer (Go passes nil for empty slices); NULL with a
 *    non-zero length is PQ_ERR_INVALID_ARGUMENT. A missing output is PQ_ERR_BUFFER_TOO_SMALL.
 *  - Field elements are 32-byte big-endian canonical values (< p); integers in structs are native.
 *  - One call per batch, never per transaction.
 *  - Threads: a pq_core handle is not internally synchronised. Calls that take `const pq_core *`
 *    may run concurrently with each other; a call that takes `pq_core *` (apply, free) must be
 *    exclusive. The Go wrapper enforces this with a RWMutex.
 *  - Signatures are NOT checked by the core: the caller passes transactions whose signatures it
 *    has verified (docs/protocol.md §6).
 */
#ifndef PQCORE_H
#define PQCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Call-level status codes. */
typedef enum {
    PQ_OK = 0,
    PQ_ERR_MALFORMED = 1,          /* batch data length or a record's layout is wrong (§5.3) */
    PQ_ERR_UNKNOWN_TYPE = 2,       /* a record's type byte is > 6 */
    PQ_ERR_NON_CANONICAL = 3,      /* a 32-byte word is >= p */
    PQ_ERR_BATCH_TOO_LARGE = 4,    /* more than PQ_MAX_BATCH_TXS records */
    PQ_ERR_BUFFER_TOO_SMALL = 5,   /* an output buffer is shorter than required */
    PQ_ERR_INDEX_OUT_OF_RANGE = 6, /* an account index >= 2^depth (witness, get_account) */
    PQ_ERR_INVALID_ARGUMENT = 7,   /* null pointer, depth out of range, n too large, ... */
    PQ_ERR_OUT_OF_MEMORY = 8,      /* the core could not reserve memory; state unchanged */
    PQ_ERR_SNAPSHOT_INVALID = 9    /* snapshot bytes fail a check of docs/protocol.md §9 */
} pq_status;

/* Per-transaction status codes (docs/protocol.md §7.1), written one byte per transaction. */
enum {
    PQ_TX_OK = 0,
    PQ_TX_INDEX_OUT_OF_RANGE = 1,
    PQ_TX_SENDER_NOT_FOUND = 2,
    PQ_TX_RECIPIENT_NOT_FOUND = 3,
    PQ_TX_BAD_NONCE = 4,
    PQ_TX_NONCE_EXHAUSTED = 5,
    PQ_TX_INSUFFICIENT_BALANCE = 6,
    PQ_TX_BALANCE_OVERFLOW = 7,
    PQ_TX_PUBKEY_MISMATCH = 8,
    PQ_TX_BAD_SIGNATURE = 9,        /* never produced by the core */
    PQ_TX_DEPOSIT_PLACEABLE = 10,   /* a refund of a deposit that some index could take (§7.6) */
    PQ_TX_KEY_KIND_MISMATCH = 11    /* a type 2/3 from an ML-DSA account or 5/6 from an EdDSA one */
};

#define PQ_TX_SIZE 160
#define PQ_MAX_BATCH_TXS 4096
#define PQ_LIST_DEPTH 12
#define PQ_TREE_DEPTH_MIN 2
#define PQ_TREE_DEPTH_MAX 32
#define PQ_SNAPSHOT_HEADER_SIZE 24 /* magic 8 + depth 1 + pad 7 + count 8 */
#define PQ_SNAPSHOT_ENTRY_SIZE 88
#define PQ_SNAPSHOT_TRAILER_SIZE 32
#define PQ_WITNESS_ENTRY_FIXED 120 /* + 32*depth bytes of siblings (pq_core_apply_batch_witness) */

typedef struct pq_core pq_core; /* opaque */

typedef struct {
    uint8_t pk_x[32];
    uint8_t pk_y[32];
    uint64_t balance;
    uint64_t nonce;
    uint8_t exists; /* 0: the account is empty and every other field is zero */
    uint8_t _pad[7];
} pq_account;

typedef struct {
    uint8_t final_root[32];      /* root after the last transaction */
    uint8_t trace_root[32];      /* list_root of the per-transaction roots (§8.2) */
    uint8_t withdrawal_root[32]; /* list_root of the withdrawal leaves (§8.3) */
    uint32_t applied;            /* transactions with status ok */
    uint32_t rejected;           /* transactions with any other status */
} pq_batch_result;

/* Creates an empty state of the given depth. capacity_hint: expected number of accounts, used to
 * reserve memory up front (capped at 2^22 so a careless hint cannot reserve gigabytes; the core
 * grows beyond it between batches, never inside one). */
int pq_core_new(uint32_t depth, uint64_t capacity_hint, pq_core **out);

/* Frees the handle. NULL and an already-freed handle whose memory is still mapped are ignored. */
void pq_core_free(pq_core *core);

int pq_core_depth(const pq_core *core, uint32_t *out);
int pq_core_root(const pq_core *core, uint8_t out[32]);
int pq_core_account_count(const pq_core *core, uint64_t *out);
int pq_core_get_account(const pq_core *core, uint32_t index, pq_account *out);

/* Applies a batch (n = txs_len / PQ_TX_SIZE records, 0 < n <= PQ_MAX_BATCH_TXS).
 * Outputs, each sized for n: statuses (n bytes), post_roots (n*32), withdrawal_leaves (n*32:
 * zero for positions that are not successful withdrawals). On a call-level error nothing is
 * changed and outputs are unspecified. */
int pq_core_apply_batch(pq_core *core,
                        const uint8_t *txs, size_t txs_len,
                        uint8_t *statuses, size_t statuses_len,
                        uint8_t *post_roots, size_t post_roots_len,
                        uint8_t *withdrawal_leaves, size_t withdrawal_leaves_len,
                        pq_batch_result *result);

/* Applies a batch exactly like pq_core_apply_batch (same outputs, same call-level errors, state
 * advanced identically) and also writes, for every transaction k, two witness entries taken in
 * the state BEFORE transaction k, for the validity prover: entry A (at witness + 2k*E, with
 * E = PQ_WITNESS_ENTRY_FIXED + 32*depth) for index `from` (the sender; for a deposit the target;
 * for a no-op index 0) and entry B (at witness + (2k+1)*E) for index `to` (transfers, types 2
 * and 5; for every other type a copy of A). Entries are written whatever the transaction's status.
 * Entry layout (big-endian integers):
 *   index u32 | exists u8 | pad 3 zero | pk.x 32 | pk.y 32 | balance u64 | nonce u64 | leaf 32 |
 *   siblings depth*32 (leaf level first, docs/protocol.md §4.3).
 * An empty index has exists 0 and zero account fields and leaf, with its real siblings. An index
 * >= 2^depth gives an entry with that index, exists 0 and every other byte zero.
 * witness_len must be >= n * 2 * (PQ_WITNESS_ENTRY_FIXED + 32*depth), else
 * PQ_ERR_BUFFER_TOO_SMALL before anything runs. Meant for proving (tens to hundreds of
 * transactions): transactions are executed one at a time, so it is slower per transaction than
 * pq_core_apply_batch. */
int pq_core_apply_batch_witness(pq_core *core,
                                const uint8_t *txs, size_t txs_len,
                                uint8_t *statuses, size_t statuses_len,
                                uint8_t *post_roots, size_t post_roots_len,
                                uint8_t *withdrawal_leaves, size_t withdrawal_leaves_len,
                                pq_batch_result *result,
                                uint8_t *witness, size_t witness_len);

/* Merkle witness for an account index: depth siblings (leaf level first, 32 bytes each) into
 * siblings, the account into account, and its leaf hash into leaf. */
int pq_core_witness(const pq_core *core, uint32_t index,
                    uint8_t *siblings, size_t siblings_len,
                    pq_account *account, uint8_t leaf[32]);

/* Snapshots (docs/protocol.md §9). */
int pq_core_snapshot_size(const pq_core *core, size_t *out);
int pq_core_snapshot_export(const pq_core *core, uint8_t *buf, size_t buf_len, size_t *written);
int pq_core_snapshot_import(const uint8_t *buf, size_t len, uint64_t capacity_hint, pq_core **out);

/* Compresses n independent pairs: out[i] = Compress(lefts[i], rights[i]) (32-byte words).
 * n <= PQ_MAX_BATCH_TXS * 2. An input word >= p gives PQ_ERR_NON_CANONICAL (out may then be
 * partly written). */
int pq_poseidon2_compress_batch(const uint8_t *lefts, const uint8_t *rights, uint8_t *out, size_t n);

/* Which Poseidon2 batch implementation runs on this CPU: 0 portable, 1 AVX-512 IFMA. */
int pq_poseidon2_impl(void);

/* Forces the portable implementation (force != 0) or restores CPU detection (force == 0).
 * For tests that check both paths agree; not for production use. */
void pq_poseidon2_force_portable(int force);

#ifdef __cplusplus
}
#endif

#endif
