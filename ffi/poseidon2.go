package ffi

/*
#cgo noescape pq_poseidon2_compress_batch
#cgo nocallback pq_poseidon2_compress_batch
#cgo noescape pq_poseidon2_impl
#cgo nocallback pq_poseidon2_impl
#cgo noescape pq_poseidon2_force_portable
#cgo nocallback pq_poseidon2_force_portable

#include "pqcore.h"
*/
import "C"

import "fmt"

// maxCompressPairs is the core's limit of pairs per pq_poseidon2_compress_batch call.
const maxCompressPairs = 2 * MaxBatchTxs

// Poseidon2CompressBatch computes out[i] = Compress(lefts[i], rights[i]) (docs/protocol.md §2.2)
// for n = len(lefts)/32 independent pairs of 32-byte big-endian canonical words. lefts and
// rights must have the same length, a multiple of 32, and out at least that length. Any n is
// accepted: the pairs are sent to the core in chunks of its per-call limit (8,192 pairs).
// A non-canonical input word gives ErrNonCanonical.
func Poseidon2CompressBatch(lefts, rights, out []byte) error {
	switch {
	case len(lefts) != len(rights) || len(lefts)%32 != 0:
		return fmt.Errorf("ffi: poseidon2 compress of %d and %d bytes: %w", len(lefts), len(rights), ErrInvalidArgument)
	case len(out) < len(lefts):
		return fmt.Errorf("ffi: poseidon2 compress of %d pairs into %d bytes: %w", len(lefts)/32, len(out), ErrBufferTooSmall)
	}
	for off := 0; off < len(lefts); off += 32 * maxCompressPairs {
		end := min(off+32*maxCompressPairs, len(lefts))
		n := (end - off) / 32
		st := C.pq_poseidon2_compress_batch(bytesPtr(lefts[off:end]), bytesPtr(rights[off:end]), bytesPtr(out[off:end]), C.size_t(n))
		if err := statusError(int(st)); err != nil {
			return fmt.Errorf("ffi: poseidon2 compress of pairs %d..%d: %w", off/32, off/32+n, err)
		}
	}
	return nil
}

// Poseidon2Impl names the Poseidon2 batch implementation the core runs on this CPU:
// "portable" or "avx512ifma".
func Poseidon2Impl() string {
	switch impl := C.pq_poseidon2_impl(); impl {
	case 0:
		return "portable"
	case 1:
		return "avx512ifma"
	default:
		return fmt.Sprintf("unknown(%d)", impl)
	}
}

// ForcePortablePoseidon2 makes the core use the portable Poseidon2 implementation (force) or
// restores CPU detection (!force). It is process-wide and exists for tests that check both
// implementations agree; production code never calls it.
func ForcePortablePoseidon2(force bool) {
	f := C.int(0)
	if force {
		f = 1
	}
	C.pq_poseidon2_force_portable(f)
}
