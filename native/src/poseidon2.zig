//! Poseidon2 over BN254 Fr, bit-exact with gnark-crypto's `ecc/bn254/fr/poseidon2` defaults:
//! width 2, 6 full rounds (3 before and 3 after 50 partial rounds), S-box x^5, gnark-crypto's
//! round keys (generated into poseidon2_constants.zig). A Merkle node is `compress(left, right)`.
//!
//! `compressBatch` (a whole Merkle level) hashes eight pairs per instruction with AVX-512 IFMA
//! when the CPU has it, detected at run time because the library is built for a baseline CPU;
//! elsewhere it runs the portable scalar code, which gives identical results.

const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;

const fr = @import("fr.zig");
const constants = @import("poseidon2_constants.zig");

const Fr = fr.Fr;
const Limbs = fr.Limbs;

comptime {
    assert(constants.width == 2);
    assert(constants.full_rounds % 2 == 0);
}

const full_rounds_half = constants.full_rounds / 2;

pub const Kernel = enum {
    /// Scalar 64-bit code, for every CPU.
    portable,
    /// AVX-512 IFMA, eight pairs per instruction; only valid where `ifmaSupported()` is true.
    ifma,
};

pub fn permute(state: *[2]Fr) void {
    var x: [2]Limbs = .{ state[0].limbs, state[1].limbs };
    permuteWeak(&x);
    state[0] = .{ .limbs = fr.reduceOnce(x[0]) };
    state[1] = .{ .limbs = fr.reduceOnce(x[1]) };
}

/// gnark-crypto's `Compress`: the second output of the permutation plus `right` (feed-forward).
pub fn compress(left: Fr, right: Fr) Fr {
    var state: [2]Fr = .{ left, right };
    permute(&state);
    return state[1].add(right);
}

/// out[i] = compress(lefts[i], rights[i]). The slices have equal lengths; `out` may be the same
/// memory as `lefts` or `rights` (a Merkle level rehashed in place), but not shifted against it.
pub fn compressBatch(lefts: []const Fr, rights: []const Fr, out: []Fr) void {
    compressBatchWith(activeKernel(), lefts, rights, out);
}

/// The kernel `compressBatch` runs: IFMA where the CPU supports it, unless forced portable.
pub fn activeKernel() Kernel {
    if (portable_forced.load(.monotonic)) return .portable;
    return if (ifmaSupported()) .ifma else .portable;
}

/// Process-wide: makes `compressBatch` run the portable kernel (true) or restores detection
/// (false). Only for tests that compare the kernels from outside Zig (the C ABI); Zig code
/// passes a kernel to `compressBatchWith` instead.
pub fn forcePortable(force: bool) void {
    portable_forced.store(force, .monotonic);
}

var portable_forced = std.atomic.Value(bool).init(false);

/// `compressBatch` on a chosen kernel, so tests and benchmarks can compare both paths.
pub fn compressBatchWith(kernel: Kernel, lefts: []const Fr, rights: []const Fr, out: []Fr) void {
    assert(lefts.len == rights.len);
    assert(lefts.len == out.len);
    var done: usize = 0;
    if (ifma_possible and kernel == .ifma) {
        assert(ifmaSupported());
        done = ifma.compressChunks(lefts, rights, out);
    }
    // Interleaving pairs in the portable path gained nothing: its multiplication is bound by
    // instruction count, not latency.
    while (done < out.len) : (done += 1) out[done] = compress(lefts[done], rights[done]);
}

/// gnark-crypto's Merkle–Damgård hasher (`NewMerkleDamgardHasher`) over whole field elements:
/// zero IV, state = compress(state, element). No length padding, as in gnark-crypto.
pub fn hashMD(elems: []const Fr) Fr {
    var state = Fr.zero;
    for (elems) |elem| state = compress(state, elem);
    return state;
}

/// The permutation with both elements weakly reduced (< 2p) in and out.
fn permuteWeak(x: *[2]Limbs) void {
    matMulExternal(x);
    for (constants.full_round_keys[0..full_rounds_half]) |keys| fullRound(x, keys);
    for (constants.partial_round_keys) |key| {
        x[0] = sBox(fr.addWeak(x[0], key));
        // Internal matrix [[2, 1], [1, 3]].
        const sum = fr.addWeak(x[0], x[1]);
        x[0] = fr.addWeak(x[0], sum);
        x[1] = fr.addWeak(fr.addWeak(x[1], x[1]), sum);
    }
    for (constants.full_round_keys[full_rounds_half..]) |keys| fullRound(x, keys);
}

inline fn fullRound(x: *[2]Limbs, keys: [2]Limbs) void {
    x[0] = sBox(fr.addWeak(x[0], keys[0]));
    x[1] = sBox(fr.addWeak(x[1], keys[1]));
    matMulExternal(x);
}

/// External matrix circ(2, 1).
inline fn matMulExternal(x: *[2]Limbs) void {
    const sum = fr.addWeak(x[0], x[1]);
    x[0] = fr.addWeak(x[0], sum);
    x[1] = fr.addWeak(x[1], sum);
}

/// x^5. A dedicated squaring (10 word products instead of 16) compiled to slower code than
/// the multiplication on the baseline CPU, so squares are plain products.
inline fn sBox(x: Limbs) Limbs {
    const x2 = fr.montMul(x, x);
    const x4 = fr.montMul(x2, x2);
    return fr.montMul(x4, x);
}

/// Whether this CPU and OS run the AVX-512 IFMA kernel. The answer is cached: under a hypervisor
/// every `cpuid` traps, which costs more than a hash.
pub fn ifmaSupported() bool {
    if (!ifma_possible) return false;
    switch (ifma_support.load(.monotonic)) {
        .unknown => {
            const detected: Support = if (ifma.detect()) .yes else .no;
            ifma_support.store(detected, .monotonic);
            return detected == .yes;
        },
        .yes => return true,
        .no => return false,
    }
}

/// Comptime: keeps the x86 assembly out of other targets' builds.
const ifma_possible = builtin.cpu.arch == .x86_64;

const Support = enum(u8) { unknown, yes, no };
var ifma_support = std.atomic.Value(Support).init(.unknown);

/// Eight pairs per instruction with AVX-512 IFMA (vpmadd52luq/vpmadd52huq: 52x52-bit products
/// added to 64-bit lanes). The library is built for a baseline CPU, where the compiler cannot
/// emit these instructions, so one inline-assembly block, generated at comptime from the
/// routines below, runs the whole permutation with the state in zmm registers.
///
/// Arithmetic is "almost Montgomery" in radix 2^52 with five limbs and R = 2^260: a product is
/// below a * b / R + p and is never reduced further. R > 84p, so a product stays below 2p while
/// a * b < 84p^2, and the sums of the linear layers need no reduction at all; limbs only have to
/// be carried back to 52 bits before they enter a multiplier. Entry and exit multiply by
/// constants that move between gnark-crypto's R = 2^256 form and this one.
const ifma = struct {
    const lanes = 8;
    const limbs = 5;
    const radix_bits = 52;
    const radix_mask: u64 = (1 << radix_bits) - 1;
    /// The partial rounds keep x1 below 2^fold_bits plus a little, see `partialRoundAsm`.
    const fold_bits = 254;

    const p_int: u256 = fr.toInt(fr.modulus);

    const Element = [limbs]u64;

    /// Broadcast operands, read with {1to8} from memory; the offsets are baked into the asm.
    const Constants = extern struct {
        radix_mask: u64,
        /// -p^-1 mod 2^52.
        inv: u64,
        fold_mask: u64,
        modulus: Element,
        /// 2^254 mod p: what the bits above `fold_bits` are worth.
        fold: Element,
        /// 2^264 mod p: a * this / 2^260 turns a * 2^256 into a * 2^260.
        to_domain: Element,
        /// 2^256 mod p: the way back.
        from_domain: Element,
    };

    const constants_ifma: Constants = .{
        .radix_mask = radix_mask,
        .inv = 0xc2e1f593efffffff & radix_mask,
        .fold_mask = (1 << (fold_bits - radix_bits * (limbs - 1))) - 1,
        .modulus = split(p_int),
        .fold = split(@intCast((@as(u512, 1) << fold_bits) % p_int)),
        .to_domain = split(@intCast((@as(u512, 1) << 264) % p_int)),
        .from_domain = split(@intCast((@as(u512, 1) << 256) % p_int)),
    };

    comptime {
        assert((constants_ifma.inv *% constants_ifma.modulus[0]) & radix_mask == radix_mask);
        assert(p_int < (1 << fold_bits) and (1 << fold_bits) < 2 * p_int);
        // The product of fold's top limb and the folded-away bits (< 2^6) stays in one limb.
        assert(constants_ifma.fold[limbs - 1] < (1 << (radix_bits - 6)));
    }

    /// Round keys times 2^260 mod p: full rounds key both lanes, partial rounds lane 0.
    const Keys = extern struct {
        full_first: [full_rounds_half][2]Element,
        partial: [constants.partial_rounds]Element,
        full_last: [full_rounds_half][2]Element,
    };

    const keys_ifma: Keys = keys: {
        var keys: Keys = undefined;
        for (0..full_rounds_half) |r| {
            for (0..2) |lane| {
                keys.full_first[r][lane] = toDomain(constants.full_round_keys[r][lane]);
                keys.full_last[r][lane] = toDomain(constants.full_round_keys[full_rounds_half + r][lane]);
            }
        }
        for (&keys.partial, constants.partial_round_keys) |*key, gnark_key| key.* = toDomain(gnark_key);
        break :keys keys;
    };

    fn toDomain(gnark_limbs: Limbs) Element {
        return split(@intCast((@as(u512, fr.toInt(gnark_limbs)) << 4) % p_int));
    }

    fn split(value: u256) Element {
        var element: Element = undefined;
        for (&element, 0..) |*limb, i| limb.* = @truncate((value >> @intCast(radix_bits * i)) & radix_mask);
        return element;
    }

    /// Lane-major state of eight pairs: `state[element * limbs + limb][lane]`.
    const State = [2 * limbs][lanes]u64;

    fn compressChunks(lefts: []const Fr, rights: []const Fr, out: []Fr) usize {
        var state: State align(64) = undefined;
        var done: usize = 0;
        while (done + lanes <= out.len) : (done += lanes) {
            var feed_forward: [lanes]Fr = undefined;
            for (0..lanes) |lane| {
                const left = split(fr.toInt(lefts[done + lane].limbs));
                const right = split(fr.toInt(rights[done + lane].limbs));
                for (0..limbs) |limb| {
                    state[limb][lane] = left[limb];
                    state[limbs + limb][lane] = right[limb];
                }
                feed_forward[lane] = rights[done + lane];
            }
            permuteLanes(&state);
            for (0..lanes) |lane| {
                var value: u256 = 0;
                for (0..limbs) |limb| value |= @as(u256, state[limbs + limb][lane]) << @intCast(radix_bits * limb);
                const second: Fr = .{ .limbs = fr.reduceOnce(fr.fromInt(value)) };
                out[done + lane] = second.add(feed_forward[lane]);
            }
        }
        return done;
    }

    /// Permutes eight states; on return the second element of each is back in gnark-crypto's
    /// Montgomery form, weakly reduced (< 2p), and the first element is garbage.
    fn permuteLanes(state: *align(64) State) void {
        asm volatile (permutation_asm
            :
            : [state] "{rdi}" (state),
              [constants] "{rsi}" (&constants_ifma),
              [keys] "{rdx}" (&keys_ifma),
              // zmm0-15 are named by their xmm halves, which a baseline-CPU compiler knows about.
            : "rcx", "r8", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "zmm26"
        );
    }

    // Register plan: x0 in zmm0-4, x1 in zmm5-9 (limb order), the multiplier's six rotating
    // accumulators in zmm10-15 (the squaring's ten in those and zmm23-26), its reduction factor
    // in zmm16, carries in zmm17, and the S-box's x^2 and x^4 (later the matrix sum) in zmm18-22.
    const Value = [limbs]u8;
    const reg_x0: Value = .{ 0, 1, 2, 3, 4 };
    const reg_x1: Value = .{ 5, 6, 7, 8, 9 };
    const accumulators: [limbs + 1]u8 = .{ 10, 11, 12, 13, 14, 15 };
    const factor: u8 = 16;
    const carry: u8 = 17;
    const temporary: Value = .{ 18, 19, 20, 21, 22 };
    const square_accumulators: [2 * limbs]u8 = accumulators ++ .{ 23, 24, 25, 26 };

    const permutation_asm: []const u8 = code: {
        @setEvalBranchQuota(100_000_000);
        const state_bytes = lanes * 8;
        var code: []const u8 = "";
        for (0..limbs) |i| {
            code = code ++ "vmovdqa64 " ++ num(i * state_bytes) ++ "(%%rdi), " ++ zmm(reg_x0[i]) ++ "\n";
            code = code ++ "vmovdqa64 " ++ num((limbs + i) * state_bytes) ++ "(%%rdi), " ++ zmm(reg_x1[i]) ++ "\n";
        }
        code = code ++ mulAsm(reg_x0, reg_x0, constantOperands("to_domain"));
        code = code ++ mulAsm(reg_x1, reg_x1, constantOperands("to_domain"));
        code = code ++ matMulExternalAsm();
        code = code ++ "movq %%rdx, %%r8\n";
        code = code ++ loop("1", full_rounds_half, fullRoundAsm());
        code = code ++ loop("2", constants.partial_rounds, partialRoundAsm());
        code = code ++ loop("3", full_rounds_half, fullRoundAsm());
        code = code ++ normalizeAsm(reg_x1);
        code = code ++ mulAsm(reg_x1, reg_x1, constantOperands("from_domain"));
        for (0..limbs) |i| {
            code = code ++ "vmovdqa64 " ++ zmm(reg_x1[i]) ++ ", " ++ num((limbs + i) * state_bytes) ++ "(%%rdi)\n";
        }
        // Dirty upper halves slow down later SSE code on some CPUs.
        break :code code ++ "vzeroupper\n";
    };

    comptime {
        assert(@offsetOf(Keys, "full_first") == 0);
        assert(@offsetOf(Keys, "partial") == full_rounds_half * 2 * @sizeOf(Element));
        assert(@offsetOf(Keys, "full_last") == @offsetOf(Keys, "partial") + constants.partial_rounds * @sizeOf(Element));
    }

    /// Full round on both elements; r8 walks the round keys in `Keys` order. Inputs below 6p
    /// (after the previous matrix) plus a key give S-box outputs below 1.2p, and the matrix then
    /// gives below 6p again.
    fn fullRoundAsm() []const u8 {
        var code: []const u8 = "";
        for (0..limbs) |i| {
            code = code ++ "vpaddq " ++ num(8 * i) ++ "(%%r8){1to8}, " ++ zmm(reg_x0[i]) ++ ", " ++ zmm(reg_x0[i]) ++ "\n";
            code = code ++ "vpaddq " ++ num(8 * (limbs + i)) ++ "(%%r8){1to8}, " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(reg_x1[i]) ++ "\n";
        }
        code = code ++ normalizeAsm(reg_x0) ++ normalizeAsm(reg_x1);
        code = code ++ sBoxAsm(reg_x0) ++ sBoxAsm(reg_x1);
        code = code ++ matMulExternalAsm();
        return code ++ "addq $" ++ num(2 * @sizeOf(Element)) ++ ", %%r8\n";
    }

    /// Bounds: x0 leaves the S-box below 1.2p and x1 enters below 6.7p, so x0 + key stays below
    /// 12p, whose square is below 2.7p, its fourth power below 1.1p, and x^5 below 1.2p again.
    /// x1 = x0 + 3 x1 would grow without end: each round folds its bits from 2^254 up (a count
    /// below 2^5, each worth 2^254 mod p < p/3) back in, which holds it below 6.7p.
    fn partialRoundAsm() []const u8 {
        var code: []const u8 = "";
        for (0..limbs) |i| {
            code = code ++ "vpaddq " ++ num(8 * i) ++ "(%%r8){1to8}, " ++ zmm(reg_x0[i]) ++ ", " ++ zmm(reg_x0[i]) ++ "\n";
        }
        code = code ++ normalizeAsm(reg_x0) ++ sBoxAsm(reg_x0);
        // Internal matrix [[2, 1], [1, 3]].
        for (0..limbs) |i| {
            code = code ++ "vpaddq " ++ zmm(reg_x0[i]) ++ ", " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(temporary[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(reg_x0[i]) ++ ", " ++ zmm(temporary[i]) ++ ", " ++ zmm(reg_x0[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(reg_x1[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(temporary[i]) ++ ", " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(reg_x1[i]) ++ "\n";
        }
        code = code ++ normalizeAsm(reg_x1);
        const top = reg_x1[limbs - 1];
        code = code ++ "vpsrlq $" ++ num(fold_bits - radix_bits * (limbs - 1)) ++ ", " ++ zmm(top) ++ ", " ++ zmm(factor) ++ "\n";
        code = code ++ "vpandq " ++ constantOperand("fold_mask", 0) ++ ", " ++ zmm(top) ++ ", " ++ zmm(top) ++ "\n";
        for (0..limbs) |i| {
            code = code ++ maddAsm("l", constantOperand("fold", i), factor, reg_x1[i]);
            if (i + 1 < limbs) code = code ++ maddAsm("h", constantOperand("fold", i), factor, reg_x1[i + 1]);
        }
        return code ++ "addq $" ++ num(@sizeOf(Element)) ++ ", %%r8\n";
    }

    /// External matrix circ(2, 1), no reduction.
    fn matMulExternalAsm() []const u8 {
        var code: []const u8 = "";
        for (0..limbs) |i| {
            code = code ++ "vpaddq " ++ zmm(reg_x0[i]) ++ ", " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(temporary[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(temporary[i]) ++ ", " ++ zmm(reg_x0[i]) ++ ", " ++ zmm(reg_x0[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(temporary[i]) ++ ", " ++ zmm(reg_x1[i]) ++ ", " ++ zmm(reg_x1[i]) ++ "\n";
        }
        return code;
    }

    /// x^5 in place; x must be normalized.
    fn sBoxAsm(x: Value) []const u8 {
        const y = temporary;
        return squareAsm(y, x) ++ squareAsm(y, y) ++ mulAsm(x, y, registerOperands(x));
    }

    /// out = a^2 / 2^260 + (a multiple of p below p), normalized, like `mulAsm(out, a, a)` but
    /// with 85 multiply-adds instead of 105: the product first, each cross product computed once
    /// and doubled, then the reduction. `out` may be `a`.
    fn squareAsm(out: Value, a: Value) []const u8 {
        const t = square_accumulators;
        var code: []const u8 = "";
        for (t) |r| code = code ++ "vpxorq " ++ zmm(r) ++ ", " ++ zmm(r) ++ ", " ++ zmm(r) ++ "\n";
        for (0..limbs) |i| {
            for (i + 1..limbs) |j| {
                code = code ++ maddAsm("l", zmm(a[j]), a[i], t[i + j]);
                code = code ++ maddAsm("h", zmm(a[j]), a[i], t[i + j + 1]);
            }
        }
        // Cross products are below 2^55 per accumulator, so doubling cannot overflow a lane.
        for (1..2 * limbs - 1) |k| {
            code = code ++ "vpaddq " ++ zmm(t[k]) ++ ", " ++ zmm(t[k]) ++ ", " ++ zmm(t[k]) ++ "\n";
        }
        for (0..limbs) |i| {
            code = code ++ maddAsm("l", zmm(a[i]), a[i], t[2 * i]);
            code = code ++ maddAsm("h", zmm(a[i]), a[i], t[2 * i + 1]);
        }
        for (0..limbs) |i| {
            code = code ++ "vpxorq " ++ zmm(factor) ++ ", " ++ zmm(factor) ++ ", " ++ zmm(factor) ++ "\n";
            code = code ++ maddAsm("l", constantOperand("inv", 0), t[i], factor);
            for (0..limbs) |j| {
                code = code ++ maddAsm("l", constantOperand("modulus", j), factor, t[i + j]);
                code = code ++ maddAsm("h", constantOperand("modulus", j), factor, t[i + j + 1]);
            }
            code = code ++ "vpsrlq $52, " ++ zmm(t[i]) ++ ", " ++ zmm(carry) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(carry) ++ ", " ++ zmm(t[i + 1]) ++ ", " ++ zmm(t[i + 1]) ++ "\n";
        }
        return code ++ normalizedCopyAsm(out, t[limbs..][0..limbs].*);
    }

    /// Carries every limb into the next so that limbs 0-3 are below 2^52 (the value is < 2^260,
    /// so limb 4 then is too).
    fn normalizeAsm(x: Value) []const u8 {
        var code: []const u8 = "";
        for (0..limbs - 1) |i| {
            code = code ++ "vpsrlq $52, " ++ zmm(x[i]) ++ ", " ++ zmm(carry) ++ "\n";
            code = code ++ "vpandq " ++ constantOperand("radix_mask", 0) ++ ", " ++ zmm(x[i]) ++ ", " ++ zmm(x[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(carry) ++ ", " ++ zmm(x[i + 1]) ++ ", " ++ zmm(x[i + 1]) ++ "\n";
        }
        return code;
    }

    /// out = a * b / 2^260 + (a multiple of p below p), normalized: operand-scanning Montgomery
    /// multiplication, one limb of a per step, reduced by one limb per step. `a` and `b` must be
    /// normalized; `out` may be either of them, as it is written only after the last product.
    /// `b` is register or broadcast-memory operands.
    fn mulAsm(out: Value, a: Value, b: [limbs][]const u8) []const u8 {
        var t = accumulators;
        var code: []const u8 = "";
        for (t) |r| code = code ++ "vpxorq " ++ zmm(r) ++ ", " ++ zmm(r) ++ ", " ++ zmm(r) ++ "\n";
        for (0..limbs) |i| {
            // The reduction factor depends only on limb 0: start its chain first.
            code = code ++ maddAsm("l", b[0], a[i], t[0]);
            code = code ++ "vpxorq " ++ zmm(factor) ++ ", " ++ zmm(factor) ++ ", " ++ zmm(factor) ++ "\n";
            code = code ++ maddAsm("l", constantOperand("inv", 0), t[0], factor);
            code = code ++ maddAsm("h", b[0], a[i], t[1]);
            for (1..limbs) |j| {
                code = code ++ maddAsm("l", b[j], a[i], t[j]);
                code = code ++ maddAsm("h", b[j], a[i], t[j + 1]);
            }
            for (0..limbs) |j| {
                code = code ++ maddAsm("l", constantOperand("modulus", j), factor, t[j]);
                code = code ++ maddAsm("h", constantOperand("modulus", j), factor, t[j + 1]);
            }
            // Limb 0 is now a multiple of 2^52: shift it out and recycle its register on top.
            code = code ++ "vpsrlq $52, " ++ zmm(t[0]) ++ ", " ++ zmm(carry) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(carry) ++ ", " ++ zmm(t[1]) ++ ", " ++ zmm(t[1]) ++ "\n";
            const freed = t[0];
            for (0..limbs) |j| t[j] = t[j + 1];
            t[limbs] = freed;
            if (i + 1 < limbs) code = code ++ "vpxorq " ++ zmm(freed) ++ ", " ++ zmm(freed) ++ ", " ++ zmm(freed) ++ "\n";
        }
        return code ++ normalizedCopyAsm(out, t[0..limbs].*);
    }

    /// out = t with limbs carried down to 52 bits; t is left dirty.
    fn normalizedCopyAsm(out: Value, t: Value) []const u8 {
        var code: []const u8 = "";
        for (0..limbs - 1) |i| {
            code = code ++ "vpsrlq $52, " ++ zmm(t[i]) ++ ", " ++ zmm(carry) ++ "\n";
            code = code ++ "vpandq " ++ constantOperand("radix_mask", 0) ++ ", " ++ zmm(t[i]) ++ ", " ++ zmm(out[i]) ++ "\n";
            code = code ++ "vpaddq " ++ zmm(carry) ++ ", " ++ zmm(t[i + 1]) ++ ", " ++ zmm(t[i + 1]) ++ "\n";
        }
        return code ++ "vmovdqa64 " ++ zmm(t[limbs - 1]) ++ ", " ++ zmm(out[limbs - 1]) ++ "\n";
    }

    /// acc += the low ("l") or high ("h") 52 bits of the 104-bit product of b and a, per lane.
    fn maddAsm(comptime half: []const u8, b: []const u8, a: u8, acc: u8) []const u8 {
        return "vpmadd52" ++ half ++ "uq " ++ b ++ ", " ++ zmm(a) ++ ", " ++ zmm(acc) ++ "\n";
    }

    fn loop(comptime label: []const u8, count: usize, body: []const u8) []const u8 {
        return "movl $" ++ num(count) ++ ", %%ecx\n" ++ label ++ ":\n" ++ body ++
            "decl %%ecx\njnz " ++ label ++ "b\n";
    }

    fn registerOperands(x: Value) [limbs][]const u8 {
        var operands: [limbs][]const u8 = undefined;
        for (&operands, x) |*operand, r| operand.* = zmm(r);
        return operands;
    }

    fn constantOperands(comptime field: []const u8) [limbs][]const u8 {
        var operands: [limbs][]const u8 = undefined;
        for (&operands, 0..) |*operand, i| operand.* = constantOperand(field, i);
        return operands;
    }

    fn constantOperand(comptime field: []const u8, index: usize) []const u8 {
        return num(@offsetOf(Constants, field) + 8 * index) ++ "(%%rsi){1to8}";
    }

    fn zmm(r: u8) []const u8 {
        return zmm_names[r];
    }

    const zmm_names: [32][]const u8 = names: {
        var names: [32][]const u8 = undefined;
        for (&names, 0..) |*name, r| name.* = "%%zmm" ++ num(r);
        break :names names;
    };

    /// Decimal digits; cheaper at comptime than std.fmt, which matters for thousands of lines.
    fn num(value: usize) []const u8 {
        if (value < 10) return &[1]u8{'0' + @as(u8, @intCast(value))};
        return num(value / 10) ++ num(value % 10);
    }

    fn detect() bool {
        const max_leaf = cpuid(0, 0)[0];
        if (max_leaf < 7) return false;
        const osxsave = cpuid(1, 0)[2] & (1 << 27) != 0;
        if (!osxsave) return false;
        // The OS must save SSE, AVX, opmask and both halves of the zmm registers (XCR0 bits
        // 1, 2, 5, 6, 7) or it would corrupt them on a context switch.
        const xcr0_zmm: u32 = 0b1110_0110;
        if (xgetbv() & xcr0_zmm != xcr0_zmm) return false;
        const features = cpuid(7, 0)[1];
        const avx512f = 1 << 16;
        const avx512ifma = 1 << 21;
        return features & (avx512f | avx512ifma) == avx512f | avx512ifma;
    }

    fn cpuid(leaf: u32, subleaf: u32) [4]u32 {
        var eax: u32 = undefined;
        var ebx: u32 = undefined;
        var ecx: u32 = undefined;
        var edx: u32 = undefined;
        asm volatile ("cpuid"
            : [_] "={eax}" (eax),
              [_] "={ebx}" (ebx),
              [_] "={ecx}" (ecx),
              [_] "={edx}" (edx),
            : [_] "{eax}" (leaf),
              [_] "{ecx}" (subleaf),
        );
        return .{ eax, ebx, ecx, edx };
    }

    fn xgetbv() u32 {
        return asm volatile (
            \\xorl %%ecx, %%ecx
            \\xgetbv
            : [_] "={eax}" (-> u32),
            :
            : "edx", "ecx"
        );
    }
};

const testing = std.testing;

fn fromCanonical(limbs: Limbs) Fr {
    return Fr.fromCanonicalLimbs(limbs).?;
}

test "permute matches gnark-crypto" {
    for (constants.permute_vectors) |vector| {
        var state: [2]Fr = .{ fromCanonical(vector.input[0]), fromCanonical(vector.input[1]) };
        permute(&state);
        try testing.expectEqual(vector.output[0], state[0].toCanonical());
        try testing.expectEqual(vector.output[1], state[1].toCanonical());
    }
}

test "compress matches gnark-crypto" {
    for (constants.compress_vectors) |vector| {
        const out = compress(fromCanonical(vector.left), fromCanonical(vector.right));
        try testing.expectEqual(vector.output, out.toCanonical());
    }
}

test "hashMD matches gnark-crypto" {
    for (constants.hash_vectors) |vector| {
        var elems: [8]Fr = undefined;
        assert(vector.elems.len <= elems.len);
        for (vector.elems, 0..) |limbs, i| elems[i] = fromCanonical(limbs);
        try testing.expectEqual(vector.output, hashMD(elems[0..vector.elems.len]).toCanonical());
    }
}

fn merkleRoot(kernel: Kernel) Fr {
    var level: [constants.merkle_leaves]Fr = undefined;
    for (&level, 0..) |*leaf, i| leaf.* = Fr.fromU64(i);
    var width: usize = level.len;
    var next: [constants.merkle_leaves / 2]Fr = undefined;
    while (width > 1) : (width /= 2) {
        var lefts: [constants.merkle_leaves / 2]Fr = undefined;
        var rights: [constants.merkle_leaves / 2]Fr = undefined;
        for (0..width / 2) |i| {
            lefts[i] = level[2 * i];
            rights[i] = level[2 * i + 1];
        }
        compressBatchWith(kernel, lefts[0 .. width / 2], rights[0 .. width / 2], next[0 .. width / 2]);
        @memcpy(level[0 .. width / 2], next[0 .. width / 2]);
    }
    return level[0];
}

test "compressBatch builds gnark-crypto's Merkle root" {
    try testing.expectEqual(constants.merkle_root, merkleRoot(.portable).toCanonical());
    if (ifmaSupported()) {
        try testing.expectEqual(constants.merkle_root, merkleRoot(.ifma).toCanonical());
    }
}

fn randomFr(random: std.Random) Fr {
    while (true) {
        var limbs: Limbs = undefined;
        random.bytes(std.mem.asBytes(&limbs));
        limbs[3] &= (1 << 62) - 1;
        if (Fr.fromCanonicalLimbs(limbs)) |x| return x;
    }
}

test "batch kernels agree with compress on random pairs and every length" {
    const pairs_max = 67;
    var prng = std.Random.DefaultPrng.init(4);
    var lefts: [pairs_max]Fr = undefined;
    var rights: [pairs_max]Fr = undefined;
    var out: [pairs_max]Fr = undefined;
    var rounds: usize = 0;
    var checked: usize = 0;
    while (checked < 5000) : (rounds += 1) {
        const n = rounds % (pairs_max + 1);
        for (0..n) |i| {
            // Mix in the extremes 0 and p - 1, where a missing reduction shows first.
            lefts[i] = switch (prng.random().uintLessThan(u8, 8)) {
                0 => Fr.zero,
                1 => Fr.one.neg(),
                else => randomFr(prng.random()),
            };
            rights[i] = if (prng.random().uintLessThan(u8, 8) == 0) Fr.one.neg() else randomFr(prng.random());
        }
        inline for (.{ Kernel.portable, Kernel.ifma }) |kernel| {
            if (kernel == .portable or ifmaSupported()) {
                @memset(&out, Fr.zero);
                compressBatchWith(kernel, lefts[0..n], rights[0..n], out[0..n]);
                for (0..n) |i| {
                    try testing.expect(out[i].eql(compress(lefts[i], rights[i])));
                }
            }
        }
        checked += n;
    }
}

test "forcePortable switches the active kernel" {
    forcePortable(true);
    try testing.expectEqual(Kernel.portable, activeKernel());
    forcePortable(false);
    try testing.expectEqual(if (ifmaSupported()) Kernel.ifma else Kernel.portable, activeKernel());
}

test "compressBatch in place" {
    var prng = std.Random.DefaultPrng.init(5);
    var lefts: [20]Fr = undefined;
    var rights: [20]Fr = undefined;
    for (&lefts, &rights) |*l, *r| {
        l.* = randomFr(prng.random());
        r.* = randomFr(prng.random());
    }
    var expected: [20]Fr = undefined;
    for (&expected, lefts, rights) |*e, l, r| e.* = compress(l, r);
    compressBatch(&lefts, &rights, &lefts);
    try testing.expectEqualSlices(Fr, &expected, &lefts);
}
