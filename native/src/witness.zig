//! Merkle witnesses of a batch for the validity prover (pqcore.h `pq_core_apply_batch_witness`):
//! for every transaction, the accounts it reads with their paths (docs/protocol.md §4.3), taken
//! in the state before it.
//!
//! Proving a batch costs seconds, so this path is simple rather than fast: the batch is
//! validated and its memory reserved once (`Batch.prepare`), then each transaction runs alone
//! through the phases of `Batch.apply` (`Batch.run` on a range of one) right after its entries
//! are read, and the batch roots come from `Batch.result`. The outputs and the state are
//! therefore those of `Batch.apply` on the same batch.
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const Fr = @import("fr.zig").Fr;
const smt = @import("smt.zig");
const state_mod = @import("state.zig");
const exec = @import("exec.zig");
const State = state_mod.State;

/// The bytes of an entry before its siblings (pqcore.h PQ_WITNESS_ENTRY_FIXED), big-endian:
/// index u32 | exists u8 | pad 3 | pk.x 32 | pk.y 32 | balance u64 | nonce u64 | leaf 32.
pub const entry_fixed = 120;
/// The sender's entry (A) and the recipient's (B); types without a recipient repeat A.
pub const entries_per_tx = 2;

const offset_exists = 4;
const offset_pk_x = 8;
const offset_pk_y = 40;
const offset_balance = 72;
const offset_nonce = 80;
const offset_leaf = 88;

comptime {
    assert(offset_leaf + 32 == entry_fixed);
}

/// One entry: the fixed part, then `depth` siblings, leaf level first.
pub fn entrySize(depth: u32) usize {
    return entry_fixed + 32 * @as(usize, depth);
}

/// Applies a batch exactly as `Batch.apply` does and writes, for every transaction k, its two
/// entries at `out[k * entries_per_tx * entrySize(depth)..]`, read before transaction k runs.
/// On error the state is unchanged and `out` untouched. `out` holds the entries of every record
/// (the caller checked its length against the record count).
pub fn apply(batch: *exec.Batch, allocator: Allocator, state: *State, txs: []const u8, out: []u8) exec.BatchError!exec.Result {
    const count = try exec.Batch.prepare(allocator, state, txs);
    const size = entrySize(state.depth());
    assert(out.len >= count * entries_per_tx * size);
    // Nothing below can fail.
    for (0..count) |k| {
        const h = exec.Header.decode(exec.word(exec.record(txs, k), 0));
        const a = out[(entries_per_tx * k) * size ..][0..size];
        const b = out[(entries_per_tx * k + 1) * size ..][0..size];
        // A no-op's `from` is 0 and a deposit's is its target: both are entry A's index.
        writeEntry(state, h.from, a);
        const to = h.type == @intFromEnum(exec.TxType.transfer) or h.type == @intFromEnum(exec.TxType.transfer_mldsa);
        if (to) writeEntry(state, h.to, b) else @memcpy(b, a);
        batch.run(state, txs, k, k + 1);
    }
    return batch.result(state, count);
}

/// The entry of `index` in the current state. An index outside the tree has only its index set,
/// so the prover sees which index the transaction named.
fn writeEntry(state: *const State, index: u32, out: []u8) void {
    const depth = state.depth();
    assert(out.len == entrySize(depth));
    @memset(out, 0);
    std.mem.writeInt(u32, out[0..4], index, .big);
    if (!state.inTree(index)) return;
    if (state.get(index)) |account| {
        out[offset_exists] = 1;
        out[offset_pk_x..][0..32].* = account.pk_x.toBytes();
        out[offset_pk_y..][0..32].* = account.pk_y.toBytes();
        std.mem.writeInt(u64, out[offset_balance..][0..8], account.balance, .big);
        std.mem.writeInt(u64, out[offset_nonce..][0..8], account.nonce, .big);
    }
    out[offset_leaf..][0..32].* = state.tree.leaf(index).toBytes();
    var path: [smt.depth_max]Fr = undefined;
    state.tree.witness(index, path[0..depth]);
    for (path[0..depth], 0..) |sibling, l| out[entry_fixed + 32 * l ..][0..32].* = sibling.toBytes();
}

const testing = std.testing;
const poseidon2 = @import("poseidon2.zig");

fn allZero(bytes: []const u8) bool {
    for (bytes) |byte| if (byte != 0) return false;
    return true;
}

fn field(bytes: []const u8) Fr {
    return Fr.fromCanonicalBytes(bytes[0..32]).?;
}

/// Checks an entry on its own: its index, an account consistent with its leaf, and its path
/// from the leaf to `root`.
fn expectEntry(entry: []const u8, depth: u32, index: u32, root: Fr) !void {
    try testing.expectEqual(entrySize(depth), entry.len);
    try testing.expectEqual(index, std.mem.readInt(u32, entry[0..4], .big));
    if (@as(u64, index) >> @intCast(depth) != 0) {
        try testing.expect(allZero(entry[4..]));
        return;
    }
    try testing.expect(allZero(entry[5..8]));
    const leaf = field(entry[offset_leaf..]);
    switch (entry[offset_exists]) {
        0 => try testing.expect(allZero(entry[offset_pk_x..entry_fixed])),
        1 => {
            const pk_x = field(entry[offset_pk_x..]);
            const pk_y = field(entry[offset_pk_y..]);
            const account: state_mod.Account = .{
                .index = index,
                .pk_x = pk_x,
                .pk_y = pk_y,
                .pk_hash = state_mod.Account.hashKey(pk_x, pk_y),
                .balance = std.mem.readInt(u64, entry[offset_balance..][0..8], .big),
                .nonce = std.mem.readInt(u64, entry[offset_nonce..][0..8], .big),
            };
            try testing.expect(leaf.eql(account.leaf()));
        },
        else => return error.TestUnexpectedResult,
    }
    var h = leaf;
    for (0..depth) |l| {
        const sibling = field(entry[entry_fixed + 32 * l ..]);
        h = if ((index >> @intCast(l)) & 1 == 0) poseidon2.compress(h, sibling) else poseidon2.compress(sibling, h);
    }
    try testing.expect(h.eql(root));
}

/// Checks the two entries of every transaction against the root before it.
fn expectEntries(txs: []const exec.TestTx, depth: u32, pre_root: Fr, trace: []const Fr, out: []const u8) !void {
    const size = entrySize(depth);
    for (txs, 0..) |t, k| {
        const root = if (k == 0) pre_root else trace[k - 1];
        const a = out[(2 * k) * size ..][0..size];
        const b = out[(2 * k + 1) * size ..][0..size];
        try expectEntry(a, depth, t.from, root);
        if (t.type == .transfer or t.type == .transfer_mldsa) {
            try expectEntry(b, depth, t.to, root);
        } else {
            try testing.expectEqualSlices(u8, a, b);
        }
    }
}

test "witness: same results and state as apply, entries verify before each transaction" {
    var prng = std.Random.DefaultPrng.init(2026);
    const random = prng.random();
    const depth = 5;
    const plain = try exec.TestCore.init(depth);
    defer plain.deinit();
    const traced = try exec.TestCore.init(depth);
    defer traced.deinit();
    const n = 48;
    var out: [n * entries_per_tx * entrySize(depth)]u8 = undefined;
    for (0..8) |_| {
        var txs: [n]exec.TestTx = undefined;
        for (&txs) |*t| {
            // A few indices beyond the tree.
            const from = random.uintLessThan(u32, (1 << depth) + 3);
            const to = random.uintLessThan(u32, (1 << depth) + 3);
            // Key 0 (from % 3 == 0) makes an ML-DSA account, pk.x = 0: types 5/6 are its own.
            t.* = switch (random.uintLessThan(u32, 8)) {
                0, 1 => exec.TestTx.deposit(from, from % 3, random.uintLessThan(u64, 1000)),
                5 => exec.TestTx.transferMldsa(from, to, random.uintLessThan(u64, 300), random.uintLessThan(u64, 2)),
                6 => exec.TestTx.withdrawMldsa(from, random.int(u32), random.uintLessThan(u64, 300), random.uintLessThan(u64, 2)),
                2, 3 => exec.TestTx.transfer(from, to, random.uintLessThan(u64, 300), random.uintLessThan(u64, 2)),
                4 => exec.TestTx.withdraw(from, random.int(u32), random.uintLessThan(u64, 300), random.uintLessThan(u64, 2)),
                else => .{},
            };
        }
        const want = try plain.apply(&txs);
        const pre_root = traced.state.root();
        const got = try apply(&traced.batch, testing.allocator, &traced.state, traced.encode(&txs), &out);

        try testing.expect(got.final_root.eql(want.final_root));
        try testing.expect(got.trace_root.eql(want.trace_root));
        try testing.expect(got.withdrawal_root.eql(want.withdrawal_root));
        try testing.expectEqual(want.applied, got.applied);
        try testing.expectEqual(want.rejected, got.rejected);
        try testing.expectEqualSlices(exec.TxStatus, plain.batch.statuses[0..n], traced.batch.statuses[0..n]);
        for (plain.batch.trace[0..n], traced.batch.trace[0..n]) |w, g| try testing.expect(w.eql(g));
        for (plain.batch.withdrawal_leaves[0..n], traced.batch.withdrawal_leaves[0..n]) |w, g| try testing.expect(w.eql(g));

        try testing.expect(traced.state.root().eql(plain.state.root()));
        try testing.expectEqual(plain.state.accountCount(), traced.state.accountCount());
        for (plain.state.accounts.items) |a| {
            const b = traced.state.get(a.index).?;
            try testing.expect(a.pk_x.eql(b.pk_x) and a.pk_y.eql(b.pk_y) and a.pk_hash.eql(b.pk_hash));
            try testing.expectEqual(a.balance, b.balance);
            try testing.expectEqual(a.nonce, b.nonce);
        }
        try expectEntries(&txs, depth, pre_root, traced.batch.trace[0..n], &out);
    }
}

test "witness: the last index of a depth-32 tree" {
    const core = try exec.TestCore.init(smt.depth_max);
    defer core.deinit();
    const last = std.math.maxInt(u32);
    const txs = [_]exec.TestTx{
        exec.TestTx.deposit(last, 1, 10),
        exec.TestTx.deposit(0, 2, 0),
        exec.TestTx.transfer(last, 0, 4, 0),
        exec.TestTx.withdraw(0, 9, 4, 0),
        .{},
    };
    var out: [txs.len * entries_per_tx * entrySize(smt.depth_max)]u8 = undefined;
    const pre_root = core.state.root();
    const result = try apply(&core.batch, testing.allocator, &core.state, core.encode(&txs), &out);
    try testing.expectEqual(@as(u32, txs.len), result.applied);
    try expectEntries(&txs, smt.depth_max, pre_root, core.batch.trace[0..txs.len], &out);
    // The transfer reads both accounts as the deposits left them.
    const size = entrySize(smt.depth_max);
    try testing.expectEqual(@as(u64, 10), std.mem.readInt(u64, out[4 * size + offset_balance ..][0..8], .big));
    try testing.expectEqual(@as(u8, 1), out[5 * size + offset_exists]);
}

test "witness: a structurally invalid batch changes nothing" {
    const core = try exec.TestCore.init(4);
    defer core.deinit();
    _ = try core.apply(&.{exec.TestTx.deposit(1, 10, 100)});
    const root = core.state.root();
    var out: [2 * entries_per_tx * entrySize(4)]u8 = @splat(0xaa);
    const txs = core.encode(&.{ exec.TestTx.transfer(1, 1, 1, 0), .{ .w1 = 1 } });
    try testing.expectError(error.Malformed, apply(&core.batch, testing.allocator, &core.state, txs, &out));
    try testing.expect(core.state.root().eql(root));
    for (out) |byte| try testing.expectEqual(@as(u8, 0xaa), byte);
}
