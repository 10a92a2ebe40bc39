//! The BN254 scalar field Fr, in Montgomery form with R = 2^256.
//!
//! An `Fr` holds the same four little-endian limbs as gnark-crypto's `fr.Element`, so constants
//! generated from Go are raw limbs and values cross the C ABI without conversion.
//!
//! Besides the canonical API (every `Fr` is < p), the `Limbs` functions below work on values that
//! are only weakly reduced (< 2p). Poseidon2 uses them to skip the final subtraction of every
//! multiplication; their bounds are stated on each function.

const std = @import("std");
const assert = std.debug.assert;

pub const Limbs = [4]u64;

pub const modulus: Limbs = .{
    0x43e1f593f0000001,
    0x2833e84879b97091,
    0xb85045b68181585d,
    0x30644e72e131a029,
};

pub const bytes_len = 32;

const modulus_int: u256 = toInt(modulus);
const modulus_double: Limbs = fromInt(2 * modulus_int);

/// -p^-1 mod 2^64, the per-word Montgomery factor.
const inv: u64 = 0xc2e1f593efffffff;
/// R mod p: one in Montgomery form.
const r_mod_int: u256 = @intCast((@as(u512, 1) << 256) % modulus_int);
const r_mod: Limbs = fromInt(r_mod_int);
/// R^2 mod p: Montgomery-multiplying by it converts into Montgomery form.
const r_squared: Limbs = fromInt(@intCast(@as(u512, r_mod_int) * r_mod_int % modulus_int));

comptime {
    assert(modulus[0] *% inv == std.math.maxInt(u64));
    // The no-carry multiplication needs headroom in the top word (gnark-crypto's condition),
    // and the weakly reduced range [0, 2p) must double without overflowing 256 bits.
    assert(modulus[3] < std.math.maxInt(u64) / 2 - 1);
    assert(modulus_int < (1 << 254));
}

pub const Fr = struct {
    limbs: Limbs,

    pub const zero: Fr = .{ .limbs = .{ 0, 0, 0, 0 } };
    pub const one: Fr = .{ .limbs = r_mod };

    pub fn fromU64(value: u64) Fr {
        return .{ .limbs = reduceOnce(montMul(.{ value, 0, 0, 0 }, r_squared)) };
    }

    /// `limbs` are the regular (not Montgomery) little-endian limbs; null if not below p.
    pub fn fromCanonicalLimbs(limbs: Limbs) ?Fr {
        if (!lessThan(limbs, modulus)) return null;
        return .{ .limbs = reduceOnce(montMul(limbs, r_squared)) };
    }

    /// Big-endian, as gnark-crypto's `SetBytesCanonical`; null if not below p.
    pub fn fromCanonicalBytes(bytes: *const [bytes_len]u8) ?Fr {
        var limbs: Limbs = undefined;
        inline for (0..4) |i| {
            limbs[i] = std.mem.readInt(u64, bytes[bytes_len - 8 * (i + 1) ..][0..8], .big);
        }
        return fromCanonicalLimbs(limbs);
    }

    /// Regular little-endian limbs, each value below p.
    pub fn toCanonical(self: Fr) Limbs {
        return reduceOnce(montMul(self.limbs, .{ 1, 0, 0, 0 }));
    }

    /// Big-endian canonical bytes, as gnark-crypto's `Marshal`.
    pub fn toBytes(self: Fr) [bytes_len]u8 {
        const limbs = self.toCanonical();
        var bytes: [bytes_len]u8 = undefined;
        inline for (0..4) |i| {
            std.mem.writeInt(u64, bytes[bytes_len - 8 * (i + 1) ..][0..8], limbs[i], .big);
        }
        return bytes;
    }

    pub fn add(a: Fr, b: Fr) Fr {
        return .{ .limbs = subIfNotBelow(addNoCarry(a.limbs, b.limbs), modulus) };
    }

    pub fn double(a: Fr) Fr {
        return a.add(a);
    }

    pub fn sub(a: Fr, b: Fr) Fr {
        // Wide integers compile to add/adc chains and a select; per-limb overflow builtins did
        // not. Adding p back under a mask keeps the timing independent of the values.
        const difference = @subWithOverflow(toInt(a.limbs), toInt(b.limbs));
        const mask = 0 -% @as(u256, difference[1]);
        return .{ .limbs = fromInt(difference[0] +% (modulus_int & mask)) };
    }

    pub fn neg(a: Fr) Fr {
        return zero.sub(a);
    }

    pub fn mul(a: Fr, b: Fr) Fr {
        return .{ .limbs = reduceOnce(montMul(a.limbs, b.limbs)) };
    }

    pub fn square(a: Fr) Fr {
        return .{ .limbs = reduceOnce(montMul(a.limbs, a.limbs)) };
    }

    /// x^5, the Poseidon2 S-box.
    pub fn pow5(a: Fr) Fr {
        const a2 = montMul(a.limbs, a.limbs);
        const a4 = montMul(a2, a2);
        return .{ .limbs = reduceOnce(montMul(a4, a.limbs)) };
    }

    pub fn eql(a: Fr, b: Fr) bool {
        return std.mem.eql(u64, &a.limbs, &b.limbs);
    }

    pub fn isZero(a: Fr) bool {
        return (a.limbs[0] | a.limbs[1] | a.limbs[2] | a.limbs[3]) == 0;
    }
};

/// Montgomery product a * b / R, not fully reduced.
/// Bounds: a < 2^256 and b < 4p give a result < a * b / R + p, which is < 2p for a, b < 2p.
///
/// CIOS with gnark-crypto's no-carry shortcut: every intermediate t stays below b + p + 2^192,
/// which fits 256 bits for b < 4p, so the fifth carry word of textbook CIOS is never needed.
pub inline fn montMul(a: Limbs, b: Limbs) Limbs {
    var t: Limbs = .{ 0, 0, 0, 0 };
    inline for (0..4) |i| {
        var carry: u64 = 0;
        inline for (0..4) |j| {
            const product = @as(u128, a[i]) * b[j] + t[j] + carry;
            t[j] = @truncate(product);
            carry = @intCast(product >> 64);
        }
        const top = carry;
        const m = t[0] *% inv;
        var product = @as(u128, m) * modulus[0] + t[0];
        carry = @intCast(product >> 64);
        inline for (1..4) |j| {
            product = @as(u128, m) * modulus[j] + t[j] + carry;
            t[j - 1] = @truncate(product);
            carry = @intCast(product >> 64);
        }
        t[3] = top + carry;
    }
    return t;
}

/// a + b for a, b < 2^255 (any two weakly reduced values): the sum cannot carry out.
inline fn addNoCarry(a: Limbs, b: Limbs) Limbs {
    const sum = @addWithOverflow(toInt(a), toInt(b));
    assert(sum[1] == 0);
    return fromInt(sum[0]);
}

/// a + b mod p for a, b < 2p, result < 2p.
pub inline fn addWeak(a: Limbs, b: Limbs) Limbs {
    return subIfNotBelow(addNoCarry(a, b), modulus_double);
}

/// a mod p for a < 2p.
pub inline fn reduceOnce(a: Limbs) Limbs {
    return subIfNotBelow(a, modulus);
}

/// a - m if a >= m else a, without a data-dependent branch.
inline fn subIfNotBelow(a: Limbs, m: Limbs) Limbs {
    const a_int = toInt(a);
    const difference = @subWithOverflow(a_int, toInt(m));
    const keep = 0 -% @as(u256, difference[1]);
    return fromInt((a_int & keep) | (difference[0] & ~keep));
}

fn lessThan(a: Limbs, b: Limbs) bool {
    var i: usize = 4;
    while (i > 0) {
        i -= 1;
        if (a[i] != b[i]) return a[i] < b[i];
    }
    return false;
}

pub inline fn toInt(limbs: Limbs) u256 {
    return @as(u256, limbs[0]) | @as(u256, limbs[1]) << 64 |
        @as(u256, limbs[2]) << 128 | @as(u256, limbs[3]) << 192;
}

pub inline fn fromInt(value: u256) Limbs {
    return .{
        @truncate(value),
        @truncate(value >> 64),
        @truncate(value >> 128),
        @truncate(value >> 192),
    };
}

const testing = std.testing;

/// Reference arithmetic on wide integers, slow but obviously right.
fn referenceMul(a: u256, b: u256) u256 {
    return @intCast(@as(u512, a) * b % modulus_int);
}

fn randomCanonical(random: std.Random) Limbs {
    while (true) {
        var limbs: Limbs = undefined;
        random.bytes(std.mem.asBytes(&limbs));
        limbs[3] &= (1 << 62) - 1;
        if (lessThan(limbs, modulus)) return limbs;
    }
}

test "constants match gnark-crypto" {
    // fr.Element One() and rSquare from gnark-crypto ecc/bn254/fr/element.go.
    try testing.expectEqual(Limbs{
        12436184717236109307,
        3962172157175319849,
        7381016538464732718,
        1011752739694698287,
    }, r_mod);
    try testing.expectEqual(Limbs{
        1997599621687373223,
        6052339484930628067,
        10108755138030829701,
        150537098327114917,
    }, r_squared);
}

test "round trips through bytes and limbs" {
    var prng = std.Random.DefaultPrng.init(1);
    for (0..1000) |_| {
        const canonical = randomCanonical(prng.random());
        const x = Fr.fromCanonicalLimbs(canonical).?;
        try testing.expectEqual(canonical, x.toCanonical());
        const bytes = x.toBytes();
        try testing.expect(Fr.fromCanonicalBytes(&bytes).?.eql(x));
    }
    try testing.expectEqual(@as(?Fr, null), Fr.fromCanonicalLimbs(modulus));
    var p_bytes: [bytes_len]u8 = undefined;
    std.mem.writeInt(u256, &p_bytes, modulus_int, .big);
    try testing.expectEqual(@as(?Fr, null), Fr.fromCanonicalBytes(&p_bytes));
    try testing.expectEqual(Limbs{ 7, 0, 0, 0 }, Fr.fromU64(7).toCanonical());
    try testing.expect(Fr.fromU64(1).eql(Fr.one));
    try testing.expect(Fr.zero.isZero() and !Fr.one.isZero());
}

test "arithmetic agrees with wide-integer reference" {
    var prng = std.Random.DefaultPrng.init(2);
    const edges = [_]u256{ 0, 1, 2, modulus_int - 1, modulus_int - 2, modulus_int / 2 };
    for (0..20_000) |i| {
        const a_int = if (i < edges.len * edges.len)
            edges[i / edges.len]
        else
            toInt(randomCanonical(prng.random()));
        const b_int = if (i < edges.len * edges.len)
            edges[i % edges.len]
        else
            toInt(randomCanonical(prng.random()));
        const a = Fr.fromCanonicalLimbs(fromInt(a_int)).?;
        const b = Fr.fromCanonicalLimbs(fromInt(b_int)).?;
        try testing.expectEqual(fromInt((a_int + b_int) % modulus_int), a.add(b).toCanonical());
        try testing.expectEqual(
            fromInt((a_int + modulus_int - b_int) % modulus_int),
            a.sub(b).toCanonical(),
        );
        try testing.expectEqual(fromInt((2 * a_int) % modulus_int), a.double().toCanonical());
        try testing.expectEqual(fromInt(referenceMul(a_int, b_int)), a.mul(b).toCanonical());
        try testing.expectEqual(fromInt(referenceMul(a_int, a_int)), a.square().toCanonical());
        const a4 = referenceMul(referenceMul(a_int, a_int), referenceMul(a_int, a_int));
        try testing.expectEqual(fromInt(referenceMul(a4, a_int)), a.pow5().toCanonical());
        try testing.expect(a.neg().add(a).isZero());
    }
}

test "weakly reduced operations keep their bounds" {
    var prng = std.Random.DefaultPrng.init(3);
    const r_inv_int: u256 = blk: {
        // R^-1 = R^(p-2); only used to state what montMul must return.
        var result: u256 = 1;
        var base: u256 = @intCast((@as(u512, 1) << 256) % modulus_int);
        var e = modulus_int - 2;
        while (e > 0) : (e >>= 1) {
            if (e & 1 == 1) result = referenceMul(result, base);
            base = referenceMul(base, base);
        }
        break :blk result;
    };
    const extremes = [_]u256{ 0, 1, 2 * modulus_int - 1, modulus_int, modulus_int - 1 };
    for (0..20_000) |i| {
        // Weakly reduced inputs: x or x + p, anywhere in [0, 2p), extremes first.
        var a_int = toInt(randomCanonical(prng.random())) + if (prng.random().boolean()) modulus_int else 0;
        var b_int = toInt(randomCanonical(prng.random())) + if (prng.random().boolean()) modulus_int else 0;
        if (i < extremes.len * extremes.len) {
            a_int = extremes[i / extremes.len];
            b_int = extremes[i % extremes.len];
        }
        const a = fromInt(a_int);
        const b = fromInt(b_int);
        const product = toInt(montMul(a, b));
        try testing.expect(product < 2 * modulus_int);
        try testing.expectEqual(referenceMul(referenceMul(a_int % modulus_int, b_int % modulus_int), r_inv_int), product % modulus_int);
        const sum = toInt(addWeak(a, b));
        try testing.expect(sum < 2 * modulus_int);
        try testing.expectEqual((a_int + b_int) % modulus_int, sum % modulus_int);
    }
}
