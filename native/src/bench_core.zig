//! Benchmark of the execution core: a depth-24 state with 100k accounts, then batches of 1,024
//! random valid transfers among them, the sequencer's steady state.
//!
//!   zig run -O ReleaseSafe -mcpu=x86_64_v3 native/src/bench_core.zig
//!
//! Reports the time per batch and per transfer and the share spent in Poseidon2, estimated from
//! the number of compresses a batch runs and the batched compress rate measured alone.
const std = @import("std");

const Fr = @import("fr.zig").Fr;
const poseidon2 = @import("poseidon2.zig");
const state_mod = @import("state.zig");
const exec = @import("exec.zig");

const depth = 24;
const accounts = 100_000;
const transfers_per_batch = 1024;
const batches = 8;

pub fn main() !void {
    const allocator = std.heap.page_allocator;
    var prng = std.Random.DefaultPrng.init(2026);
    const random = prng.random();

    var state = try state_mod.State.init(allocator, depth, accounts);
    defer state.deinit(allocator);
    var batch = try exec.Batch.init(allocator);
    defer batch.deinit(allocator);
    const txs = try allocator.alloc(u8, exec.max_batch_txs * exec.tx_size);
    defer allocator.free(txs);

    // Accounts at random distinct indices, as deposits in full batches.
    const indices = try allocator.alloc(u32, accounts);
    defer allocator.free(indices);
    const nonces = try allocator.alloc(u64, accounts);
    defer allocator.free(nonces);
    @memset(nonces, 0);
    var seen: std.AutoHashMapUnmanaged(u32, void) = .empty;
    defer seen.deinit(allocator);
    for (indices) |*index| {
        while (true) {
            const candidate = random.uintLessThan(u32, 1 << depth);
            if ((try seen.getOrPut(allocator, candidate)).found_existing) continue;
            index.* = candidate;
            break;
        }
    }
    var timer = try std.time.Timer.start();
    var created: usize = 0;
    while (created < accounts) {
        const n: usize = @min(exec.max_batch_txs, accounts - created);
        @memset(txs[0 .. n * exec.tx_size], 0);
        for (0..n) |k| {
            const r = txs[k * exec.tx_size ..][0..exec.tx_size];
            r[7] = @intFromEnum(exec.TxType.deposit);
            std.mem.writeInt(u32, r[8..12], indices[created + k], .big);
            std.mem.writeInt(u64, r[16..24], 1 << 40, .big);
            r[64..96].* = Fr.fromU64(random.int(u64)).mul(Fr.fromU64(random.int(u64))).toBytes();
            r[96..128].* = Fr.fromU64(random.int(u64)).mul(Fr.fromU64(random.int(u64))).toBytes();
        }
        const result = try batch.apply(allocator, &state, txs[0 .. n * exec.tx_size]);
        if (result.rejected != 0) return error.DepositRejected;
        created += n;
    }
    const build_ns = timer.read();
    std.debug.print("built depth {d}, {d} accounts in {d:.0} ms ({d:.1} us per deposit)\n", .{
        depth, state.accountCount(), nsToMs(build_ns), nsToUs(build_ns) / accounts,
    });

    var total_ns: u64 = 0;
    var compresses: u64 = 0;
    for (0..batches) |_| {
        @memset(txs[0 .. transfers_per_batch * exec.tx_size], 0);
        for (0..transfers_per_batch) |k| {
            const from = random.uintLessThan(usize, accounts);
            const to = random.uintLessThan(usize, accounts);
            const r = txs[k * exec.tx_size ..][0..exec.tx_size];
            r[7] = @intFromEnum(exec.TxType.transfer);
            std.mem.writeInt(u32, r[8..12], indices[from], .big);
            std.mem.writeInt(u32, r[12..16], indices[to], .big);
            std.mem.writeInt(u64, r[16..24], random.uintLessThan(u64, 1000), .big);
            std.mem.writeInt(u64, r[24..32], nonces[from], .big);
            nonces[from] += 1;
        }
        const before = batch.lanes.compresses;
        timer.reset();
        const result = try batch.apply(allocator, &state, txs[0 .. transfers_per_batch * exec.tx_size]);
        total_ns += timer.read();
        compresses += batch.lanes.compresses - before;
        if (result.rejected != 0) return error.TransferRejected;
    }
    const batch_ns = total_ns / batches;
    const compresses_per_batch = compresses / batches;

    // The same number of compresses, batched in level-sized runs, with nothing else around them.
    const lefts = try allocator.alloc(Fr, 2 * transfers_per_batch);
    defer allocator.free(lefts);
    const rights = try allocator.alloc(Fr, 2 * transfers_per_batch);
    defer allocator.free(rights);
    const out = try allocator.alloc(Fr, 2 * transfers_per_batch);
    defer allocator.free(out);
    for (lefts, rights) |*l, *r| {
        l.* = Fr.fromU64(random.int(u64));
        r.* = Fr.fromU64(random.int(u64));
    }
    const hash_runs = compresses_per_batch / lefts.len;
    timer.reset();
    for (0..hash_runs) |_| poseidon2.compressBatch(lefts, rights, out);
    const hash_ns = timer.read() * compresses_per_batch / (hash_runs * lefts.len);

    std.debug.print(
        \\apply_batch of {d} transfers: {d:.2} ms per batch, {d:.2} us per transfer (mean of {d})
        \\  {d} compresses per batch ({d:.1} per transfer); batched compress alone {d:.3} us
        \\  hashing = {d:.0}% of the batch (poseidon2 ifma: {})
        \\
    , .{
        transfers_per_batch,                                             nsToMs(batch_ns),
        nsToUs(batch_ns) / transfers_per_batch,                          batches,
        compresses_per_batch,                                            @as(f64, @floatFromInt(compresses_per_batch)) / transfers_per_batch,
        nsToUs(hash_ns) / @as(f64, @floatFromInt(compresses_per_batch)), 100 * @as(f64, @floatFromInt(hash_ns)) / @as(f64, @floatFromInt(batch_ns)),
        poseidon2.ifmaSupported(),
    });
}

fn nsToMs(ns: u64) f64 {
    return @as(f64, @floatFromInt(ns)) / 1e6;
}

fn nsToUs(ns: u64) f64 {
    return @as(f64, @floatFromInt(ns)) / 1e3;
}
