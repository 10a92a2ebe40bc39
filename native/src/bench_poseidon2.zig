//! Poseidon2 compress timings, for comparison with gnark-crypto's `BenchmarkCompress`.
//!
//!     zig run -O ReleaseFast -mcpu x86_64 native/src/bench_poseidon2.zig
//!
//! Prints the best of several runs in ns per compress: a single `compress` chain, and
//! `compressBatch` over one Merkle level of `batch_pairs` pairs on each available kernel.

const std = @import("std");
const fr = @import("fr.zig");
const poseidon2 = @import("poseidon2.zig");

const Fr = fr.Fr;

const batch_pairs = 1024;
const single_iterations = 20_000;
const batch_iterations = 40;
const runs = 5;

pub fn main() !void {
    var lefts: [batch_pairs]Fr = undefined;
    var rights: [batch_pairs]Fr = undefined;
    var out: [batch_pairs]Fr = undefined;
    for (&lefts, &rights, 0..) |*l, *r, i| {
        l.* = Fr.fromU64(2 * i + 1);
        r.* = Fr.fromU64(2 * i + 2);
    }

    var best_single: u64 = std.math.maxInt(u64);
    var sink = Fr.zero;
    for (0..runs) |_| {
        var timer = try std.time.Timer.start();
        var state = lefts[0];
        for (0..single_iterations) |_| state = poseidon2.compress(state, rights[0]);
        best_single = @min(best_single, timer.read());
        sink = sink.add(state);
    }

    std.debug.print("ifma supported: {}\n", .{poseidon2.ifmaSupported()});
    std.debug.print("compress (single chain):  {d:8.1} ns\n", .{perItem(best_single, single_iterations)});
    inline for (.{ poseidon2.Kernel.portable, poseidon2.Kernel.ifma }) |kernel| {
        if (kernel == .portable or poseidon2.ifmaSupported()) {
            var best: u64 = std.math.maxInt(u64);
            for (0..runs) |_| {
                var timer = try std.time.Timer.start();
                for (0..batch_iterations) |_| {
                    poseidon2.compressBatchWith(kernel, &lefts, &rights, &out);
                    std.mem.doNotOptimizeAway(&out);
                }
                best = @min(best, timer.read());
            }
            sink = sink.add(out[0]);
            std.debug.print("compressBatch {s:<10} {d:8.1} ns\n", .{ @tagName(kernel), perItem(best, batch_iterations * batch_pairs) });
        }
    }
    std.mem.doNotOptimizeAway(&sink);
}

fn perItem(total_ns: u64, items: u64) f64 {
    return @as(f64, @floatFromInt(total_ns)) / @as(f64, @floatFromInt(items));
}
