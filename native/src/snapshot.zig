//! Snapshots: a self-checking byte image of a state (docs/protocol.md §9).
//!
//! Import trusts nothing in the image: every field is checked and the root is recomputed from
//! the entries (batched hashing, the tree built bottom-up) before the state is handed out.
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const Fr = @import("fr.zig").Fr;
const smt = @import("smt.zig");
const state_mod = @import("state.zig");
const State = state_mod.State;
const Account = state_mod.Account;

pub const magic = "PQSNAP01";
/// magic 8 + depth 1 + pad 7 + count 8.
pub const header_size = 24;
/// index 4 + pk.x 32 + pk.y 32 + balance 8 + nonce 8 + pad 4 (zero; keeps entries 8-byte sized).
pub const entry_size = 88;
const entry_pad = 84;
/// The state root.
pub const trailer_size = 32;

pub const ImportError = error{ SnapshotInvalid, OutOfMemory };

pub fn size(state: *const State) usize {
    return header_size + state.accounts.items.len * entry_size + trailer_size;
}

/// Writes the snapshot into `buf` (at least `size(state)` bytes) and returns its length.
/// Allocates a sort order of the accounts, so a shared (read-only) state can be exported.
pub fn write(allocator: Allocator, state: *const State, buf: []u8) Allocator.Error!usize {
    const len = size(state);
    assert(buf.len >= len);
    const accounts = state.accounts.items;
    const order = try allocator.alloc(u32, accounts.len);
    defer allocator.free(order);
    for (order, 0..) |*slot, i| slot.* = @intCast(i);
    std.sort.pdq(u32, order, accounts, struct {
        fn lessThan(all: []const Account, a: u32, b: u32) bool {
            return all[a].index < all[b].index;
        }
    }.lessThan);

    @memcpy(buf[0..8], magic);
    buf[8] = @intCast(state.depth());
    @memset(buf[9..16], 0);
    std.mem.writeInt(u64, buf[16..24], accounts.len, .big);
    for (order, 0..) |slot, i| {
        const account = &accounts[slot];
        const entry = buf[header_size + i * entry_size ..][0..entry_size];
        std.mem.writeInt(u32, entry[0..4], account.index, .big);
        entry[4..36].* = account.pk_x.toBytes();
        entry[36..68].* = account.pk_y.toBytes();
        std.mem.writeInt(u64, entry[68..76], account.balance, .big);
        std.mem.writeInt(u64, entry[76..84], account.nonce, .big);
        @memset(entry[entry_pad..], 0);
    }
    buf[len - trailer_size ..][0..32].* = state.root().toBytes();
    return len;
}

/// Parses and checks a snapshot and rebuilds its state; `lanes` is scratch for the hashing.
/// `capacity_hint` is the number of accounts to reserve room for (at least the snapshot's).
pub fn read(allocator: Allocator, bytes: []const u8, capacity_hint: u32, lanes: *smt.Lanes) ImportError!State {
    if (bytes.len < header_size + trailer_size) return error.SnapshotInvalid;
    if (!std.mem.eql(u8, bytes[0..8], magic)) return error.SnapshotInvalid;
    const depth = bytes[8];
    if (depth < smt.depth_min or depth > smt.depth_max) return error.SnapshotInvalid;
    // The format fixes the padding to zero; anything else is not a snapshot this code wrote.
    for (bytes[9..16]) |b| if (b != 0) return error.SnapshotInvalid;
    const count = std.mem.readInt(u64, bytes[16..24], .big);
    const body = bytes.len - header_size - trailer_size;
    if (body % entry_size != 0 or body / entry_size != count) return error.SnapshotInvalid;
    if (count > @as(u64, 1) << @intCast(depth)) return error.SnapshotInvalid;
    // A full depth-32 tree has 2^32 accounts, one more than the core's u32 counts; its image
    // would be 377 GB, so this is a memory limit rather than a format rule.
    if (count > std.math.maxInt(u32)) return error.OutOfMemory;
    const root = Fr.fromCanonicalBytes(bytes[bytes.len - trailer_size ..][0..32]) orelse
        return error.SnapshotInvalid;

    var previous: ?u32 = null;
    for (0..count) |i| {
        const entry = bytes[header_size + i * entry_size ..][0..entry_size];
        const index = std.mem.readInt(u32, entry[0..4], .big);
        if (@as(u64, index) >> @intCast(depth) != 0) return error.SnapshotInvalid;
        if (previous != null and index <= previous.?) return error.SnapshotInvalid;
        previous = index;
        if (Fr.fromCanonicalBytes(entry[4..36]) == null) return error.SnapshotInvalid;
        if (Fr.fromCanonicalBytes(entry[36..68]) == null) return error.SnapshotInvalid;
        for (entry[entry_pad..]) |b| if (b != 0) return error.SnapshotInvalid;
    }
    const accounts: u32 = @intCast(count);
    var state = try State.init(allocator, depth, @max(capacity_hint, accounts));
    errdefer state.deinit(allocator);
    const leaves = try allocator.alloc(smt.Node, accounts);
    defer allocator.free(leaves);

    var start: usize = 0;
    while (start < accounts) {
        const chunk = @min(accounts - start, lanes.capacity());
        insertChunk(&state, bytes[header_size + start * entry_size ..][0 .. chunk * entry_size], leaves[start..][0..chunk], lanes);
        start += chunk;
    }
    state.tree.build(leaves, lanes);
    if (!state.root().eql(root)) return error.SnapshotInvalid;
    return state;
}

/// Adds a run of checked entries with their key hashes and leaves, three batched compresses.
fn insertChunk(state: *State, entries: []const u8, leaves: []smt.Node, lanes: *smt.Lanes) void {
    const n = leaves.len;
    assert(entries.len == n * entry_size and n <= lanes.capacity());
    lanes.reset();
    for (0..n) |i| {
        const entry = entries[i * entry_size ..][0..entry_size];
        _ = lanes.push(Fr.zero, Fr.fromCanonicalBytes(entry[4..36]).?);
    }
    lanes.run();
    for (0..n) |i| {
        const entry = entries[i * entry_size ..][0..entry_size];
        lanes.left[i] = lanes.out[i];
        lanes.right[i] = Fr.fromCanonicalBytes(entry[36..68]).?;
    }
    lanes.run();
    for (0..n) |i| {
        const entry = entries[i * entry_size ..][0..entry_size];
        const account: Account = .{
            .index = std.mem.readInt(u32, entry[0..4], .big),
            .pk_x = Fr.fromCanonicalBytes(entry[4..36]).?,
            .pk_y = Fr.fromCanonicalBytes(entry[36..68]).?,
            .pk_hash = lanes.out[i],
            .balance = std.mem.readInt(u64, entry[68..76], .big),
            .nonce = std.mem.readInt(u64, entry[76..84], .big),
        };
        state.insertAssumeCapacity(account);
        lanes.left[i] = account.pk_hash;
        lanes.right[i] = Account.balanceAndNonce(account.balance, account.nonce);
        leaves[i].pos = account.index;
    }
    lanes.run();
    for (leaves, lanes.out[0..n]) |*leaf, value| leaf.value = value;
}

const testing = std.testing;
const exec = @import("exec.zig");

fn testState(allocator: Allocator, batch: *exec.Batch) !State {
    var state = try State.init(allocator, 6, 4);
    errdefer state.deinit(allocator);
    var txs: [5 * exec.tx_size]u8 = @splat(0);
    for ([_]u32{ 40, 3, 17, 63, 0 }, 0..) |index, k| {
        const r = txs[k * exec.tx_size ..][0..exec.tx_size];
        r[7] = @intFromEnum(exec.TxType.deposit);
        std.mem.writeInt(u32, r[8..12], index, .big);
        std.mem.writeInt(u64, r[16..24], 1000 + index, .big);
        std.mem.writeInt(u64, r[64 + 24 ..][0..8], index * 7 + 1, .big);
        std.mem.writeInt(u64, r[96 + 24 ..][0..8], index * 7 + 2, .big);
    }
    _ = try batch.apply(allocator, &state, &txs);
    return state;
}

test "snapshot round trip" {
    const allocator = testing.allocator;
    var batch = try exec.Batch.init(allocator);
    defer batch.deinit(allocator);
    var state = try testState(allocator, &batch);
    defer state.deinit(allocator);
    var buf: [header_size + 5 * entry_size + trailer_size]u8 = undefined;
    try testing.expectEqual(buf.len, size(&state));
    try testing.expectEqual(buf.len, try write(allocator, &state, &buf));
    try testing.expectEqual(@as(u32, 0), std.mem.readInt(u32, buf[header_size..][0..4], .big));

    var copy = try read(allocator, &buf, 0, &batch.lanes);
    defer copy.deinit(allocator);
    try testing.expect(copy.root().eql(state.root()));
    try testing.expectEqual(state.accountCount(), copy.accountCount());
    for (state.accounts.items) |a| {
        const b = copy.get(a.index).?;
        try testing.expect(a.pk_x.eql(b.pk_x) and a.pk_y.eql(b.pk_y) and a.pk_hash.eql(b.pk_hash));
        try testing.expectEqual(a.balance, b.balance);
        try testing.expectEqual(a.nonce, b.nonce);
    }
    var again: [buf.len]u8 = undefined;
    _ = try write(allocator, &copy, &again);
    try testing.expectEqualSlices(u8, &buf, &again);

    var empty = try State.init(allocator, 32, 0);
    defer empty.deinit(allocator);
    var empty_buf: [header_size + trailer_size]u8 = undefined;
    _ = try write(allocator, &empty, &empty_buf);
    var empty_copy = try read(allocator, &empty_buf, 0, &batch.lanes);
    defer empty_copy.deinit(allocator);
    try testing.expect(empty_copy.root().eql(empty.root()));
}

test "snapshot import rejects every defect" {
    const allocator = testing.allocator;
    var batch = try exec.Batch.init(allocator);
    defer batch.deinit(allocator);
    var state = try testState(allocator, &batch);
    defer state.deinit(allocator);
    var good: [header_size + 5 * entry_size + trailer_size]u8 = undefined;
    _ = try write(allocator, &state, &good);
    var p: [32]u8 = undefined;
    std.mem.writeInt(u256, &p, 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001, .big);
    const e0 = header_size;
    const e1 = header_size + entry_size;
    const Patch = struct { offset: usize, bytes: []const u8 };
    const patches = [_]Patch{
        .{ .offset = 0, .bytes = "PQSNAP02" },
        .{ .offset = 8, .bytes = &.{1} },
        .{ .offset = 8, .bytes = &.{33} },
        .{ .offset = 15, .bytes = &.{1} },
        .{ .offset = 23, .bytes = &.{4} },
        .{ .offset = 23, .bytes = &.{6} },
        .{ .offset = 16, .bytes = &.{0x80} },
        // Entries are sorted 0, 3, 17, 40, 63.
        .{ .offset = e1, .bytes = &.{ 0, 0, 0, 0 } },
        .{ .offset = e0, .bytes = &.{ 0, 0, 0, 5 } },
        .{ .offset = header_size + 4 * entry_size, .bytes = &.{ 0, 0, 0, 64 } },
        .{ .offset = e0 + 4, .bytes = &p },
        .{ .offset = e1 + 36, .bytes = &p },
        .{ .offset = e1 + 84, .bytes = &.{1} },
        .{ .offset = e1 + 75, .bytes = &.{1} },
        .{ .offset = good.len - 32, .bytes = &p },
        .{ .offset = good.len - 1, .bytes = &.{0} },
    };
    for (patches) |patch| {
        var bad = good;
        @memcpy(bad[patch.offset..][0..patch.bytes.len], patch.bytes);
        try testing.expectError(error.SnapshotInvalid, read(allocator, &bad, 0, &batch.lanes));
    }
    try testing.expectError(error.SnapshotInvalid, read(allocator, good[0 .. good.len - 1], 0, &batch.lanes));
    try testing.expectError(error.SnapshotInvalid, read(allocator, good[0..40], 0, &batch.lanes));
    try testing.expectError(error.SnapshotInvalid, read(allocator, "", 0, &batch.lanes));
    var long: [good.len + entry_size]u8 = @splat(0);
    @memcpy(long[0..good.len], &good);
    try testing.expectError(error.SnapshotInvalid, read(allocator, &long, 0, &batch.lanes));
}
