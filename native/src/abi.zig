//! The C ABI of native/include/pqcore.h: the only file that knows about C.
//!
//! Everything that arrives from C (handles, pointers, lengths, indices) is checked here before the
//! core sees it, and every outcome leaves as a `Status`: a Zig safety panic would abort the whole
//! Go process, so nothing the caller controls may reach an assertion.
const std = @import("std");
const assert = std.debug.assert;

const Fr = @import("fr.zig").Fr;
const poseidon2 = @import("poseidon2.zig");
const smt = @import("smt.zig");
const state_mod = @import("state.zig");
const exec = @import("exec.zig");
const snapshot = @import("snapshot.zig");
const witness = @import("witness.zig");
const State = state_mod.State;

/// pq_status.
pub const Status = enum(c_int) {
    ok = 0,
    malformed = 1,
    unknown_type = 2,
    non_canonical = 3,
    batch_too_large = 4,
    buffer_too_small = 5,
    index_out_of_range = 6,
    invalid_argument = 7,
    out_of_memory = 8,
    snapshot_invalid = 9,
};

/// pq_account.
pub const Account = extern struct {
    pk_x: [32]u8,
    pk_y: [32]u8,
    balance: u64,
    nonce: u64,
    exists: u8,
    _pad: [7]u8,
};

/// pq_batch_result.
pub const BatchResult = extern struct {
    final_root: [32]u8,
    trace_root: [32]u8,
    withdrawal_root: [32]u8,
    applied: u32,
    rejected: u32,
};

/// pq_core, opaque to C.
pub const Handle = opaque {};

// The header's constants and layouts, restated in C, must match the core's.
comptime {
    assert(@sizeOf(Account) == 88 and @offsetOf(Account, "balance") == 64 and @offsetOf(Account, "exists") == 80);
    assert(@sizeOf(BatchResult) == 104 and @offsetOf(BatchResult, "applied") == 96);
    assert(exec.tx_size == 160 and exec.max_batch_txs == 4096 and exec.list_depth == 12);
    assert(smt.depth_min == 2 and smt.depth_max == 32);
    assert(snapshot.header_size == 24 and snapshot.entry_size == 88 and snapshot.trailer_size == 32);
    assert(@intFromEnum(exec.TxStatus.bad_signature) == 9 and @intFromEnum(exec.TxStatus.deposit_placeable) == 10);
    assert(@intFromEnum(exec.TxStatus.key_kind_mismatch) == 11);
    assert(@intFromEnum(exec.TxType.refund) == 4 and @intFromEnum(exec.TxType.withdraw_mldsa) == 6);
    assert(witness.entry_fixed == 120 and witness.entries_per_tx == 2);
}

/// The library must not need libc; large, long-lived buffers come straight from the OS.
const allocator = std.heap.page_allocator;

/// A capacity hint reserves at most this many accounts up front (about 1 GB of accounts and tree
/// nodes at depth 24), so a careless hint cannot exhaust memory; a larger state still grows,
/// between batches.
const capacity_hint_max = 1 << 22;

/// pq_poseidon2_compress_batch accepts the pairs of two full tree levels of a batch.
const compress_batch_max = 2 * exec.max_batch_txs;

const Core = struct {
    /// Set while the handle is live: a stale or foreign pointer is refused, not dereferenced
    /// as a core.
    magic: u64,
    state: State,
    batch: exec.Batch,

    const live: u64 = 0x7071636f72652d31; // "pqcore-1"

    fn create(depth: u32, capacity_hint: u64) error{OutOfMemory}!*Core {
        const core = try allocator.create(Core);
        errdefer allocator.destroy(core);
        core.batch = try exec.Batch.init(allocator);
        errdefer core.batch.deinit(allocator);
        core.state = try State.init(allocator, depth, clampHint(capacity_hint));
        core.magic = live;
        return core;
    }

    fn destroy(core: *Core) void {
        core.magic = 0;
        core.state.deinit(allocator);
        core.batch.deinit(allocator);
        allocator.destroy(core);
    }
};

fn clampHint(capacity_hint: u64) u32 {
    return @intCast(@min(capacity_hint, capacity_hint_max));
}

fn coreOf(handle: ?*const Handle) ?*Core {
    const address = @intFromPtr(handle orelse return null);
    if (address % @alignOf(Core) != 0) return null;
    const core: *Core = @ptrFromInt(address);
    if (core.magic != Core.live) return null;
    return core;
}

fn handleOf(core: *Core) *Handle {
    return @ptrCast(core);
}

fn depthWidth(core: *const Core) u64 {
    return @as(u64, 1) << @intCast(core.state.depth());
}

/// A caller's buffer. NULL with length 0 is an empty buffer (Go passes nil for empty slices), so
/// a missing output is reported as too small like any other short one; NULL with a length is an
/// invalid argument.
fn input(ptr: ?[*]const u8, len: usize) ?[]const u8 {
    if (ptr) |p| return p[0..len];
    return if (len == 0) &.{} else null;
}

fn output(ptr: ?[*]u8, len: usize) ?[]u8 {
    if (ptr) |p| return p[0..len];
    return if (len == 0) &.{} else null;
}

fn writeAccount(out: *align(1) Account, account: ?*const state_mod.Account) void {
    out.* = std.mem.zeroes(Account);
    const a = account orelse return;
    out.pk_x = a.pk_x.toBytes();
    out.pk_y = a.pk_y.toBytes();
    out.balance = a.balance;
    out.nonce = a.nonce;
    out.exists = 1;
}

pub export fn pq_core_new(depth: u32, capacity_hint: u64, out: ?*align(1) ?*Handle) callconv(.c) Status {
    const out_ptr = out orelse return .invalid_argument;
    out_ptr.* = null;
    if (depth < smt.depth_min or depth > smt.depth_max) return .invalid_argument;
    const core = Core.create(depth, capacity_hint) catch return .out_of_memory;
    out_ptr.* = handleOf(core);
    return .ok;
}

pub export fn pq_core_free(handle: ?*Handle) callconv(.c) void {
    const core = coreOf(handle) orelse return;
    core.destroy();
}

pub export fn pq_core_depth(handle: ?*const Handle, out: ?*align(1) u32) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const out_ptr = out orelse return .invalid_argument;
    out_ptr.* = core.state.depth();
    return .ok;
}

pub export fn pq_core_root(handle: ?*const Handle, out: ?*[32]u8) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const out_ptr = out orelse return .invalid_argument;
    out_ptr.* = core.state.root().toBytes();
    return .ok;
}

pub export fn pq_core_account_count(handle: ?*const Handle, out: ?*align(1) u64) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const out_ptr = out orelse return .invalid_argument;
    out_ptr.* = core.state.accountCount();
    return .ok;
}

pub export fn pq_core_get_account(handle: ?*const Handle, index: u32, out: ?*align(1) Account) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const out_ptr = out orelse return .invalid_argument;
    if (index >= depthWidth(core)) return .index_out_of_range;
    writeAccount(out_ptr, core.state.get(index));
    return .ok;
}

pub export fn pq_core_apply_batch(
    handle: ?*Handle,
    txs: ?[*]const u8,
    txs_len: usize,
    statuses: ?[*]u8,
    statuses_len: usize,
    post_roots: ?[*]u8,
    post_roots_len: usize,
    withdrawal_leaves: ?[*]u8,
    withdrawal_leaves_len: usize,
    result: ?*align(1) BatchResult,
) callconv(.c) Status {
    return applyBatch(handle, txs, txs_len, statuses, statuses_len, post_roots, post_roots_len, withdrawal_leaves, withdrawal_leaves_len, result, null);
}

pub export fn pq_core_apply_batch_witness(
    handle: ?*Handle,
    txs: ?[*]const u8,
    txs_len: usize,
    statuses: ?[*]u8,
    statuses_len: usize,
    post_roots: ?[*]u8,
    post_roots_len: usize,
    withdrawal_leaves: ?[*]u8,
    withdrawal_leaves_len: usize,
    result: ?*align(1) BatchResult,
    witness_entries: ?[*]u8,
    witness_len: usize,
) callconv(.c) Status {
    const witness_out = output(witness_entries, witness_len) orelse return .invalid_argument;
    return applyBatch(handle, txs, txs_len, statuses, statuses_len, post_roots, post_roots_len, withdrawal_leaves, withdrawal_leaves_len, result, witness_out);
}

/// Both apply calls: the same checks in the same order and the same outputs; with `witness_out`
/// the batch runs through witness.zig, which also writes the entries.
fn applyBatch(
    handle: ?*Handle,
    txs: ?[*]const u8,
    txs_len: usize,
    statuses: ?[*]u8,
    statuses_len: usize,
    post_roots: ?[*]u8,
    post_roots_len: usize,
    withdrawal_leaves: ?[*]u8,
    withdrawal_leaves_len: usize,
    result: ?*align(1) BatchResult,
    witness_out: ?[]u8,
) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const data = input(txs, txs_len) orelse return .invalid_argument;
    const statuses_out = output(statuses, statuses_len) orelse return .invalid_argument;
    const post_roots_out = output(post_roots, post_roots_len) orelse return .invalid_argument;
    const withdrawal_leaves_out = output(withdrawal_leaves, withdrawal_leaves_len) orelse return .invalid_argument;
    const result_ptr = result orelse return .invalid_argument;
    // The length checks come first: the output sizes depend on n.
    if (data.len % exec.tx_size != 0) return .malformed;
    const n = data.len / exec.tx_size;
    if (n > exec.max_batch_txs) return .batch_too_large;
    if (n == 0) return .malformed;
    if (statuses_out.len < n or post_roots_out.len / 32 < n or withdrawal_leaves_out.len / 32 < n) {
        return .buffer_too_small;
    }
    // At most 4096 * 2 * (120 + 32 * 32) bytes: no overflow.
    const witness_size = n * witness.entries_per_tx * witness.entrySize(core.state.depth());
    if (witness_out) |w| if (w.len < witness_size) return .buffer_too_small;

    const outcome = if (witness_out) |w|
        witness.apply(&core.batch, allocator, &core.state, data, w[0..witness_size])
    else
        core.batch.apply(allocator, &core.state, data);
    const r = outcome catch |err| return switch (err) {
        error.Malformed => .malformed,
        error.UnknownType => .unknown_type,
        error.NonCanonical => .non_canonical,
        error.BatchTooLarge => .batch_too_large,
        error.OutOfMemory => .out_of_memory,
    };
    const batch = &core.batch;
    for (batch.statuses[0..n], statuses_out[0..n]) |status, *out| out.* = @intFromEnum(status);
    for (batch.trace[0..n], 0..) |root, k| post_roots_out[32 * k ..][0..32].* = root.toBytes();
    for (batch.withdrawal_leaves[0..n], 0..) |leaf, k| withdrawal_leaves_out[32 * k ..][0..32].* = leaf.toBytes();
    result_ptr.* = .{
        .final_root = r.final_root.toBytes(),
        .trace_root = r.trace_root.toBytes(),
        .withdrawal_root = r.withdrawal_root.toBytes(),
        .applied = r.applied,
        .rejected = r.rejected,
    };
    return .ok;
}

pub export fn pq_core_witness(
    handle: ?*const Handle,
    index: u32,
    siblings: ?[*]u8,
    siblings_len: usize,
    account: ?*align(1) Account,
    leaf: ?*[32]u8,
) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const siblings_out = output(siblings, siblings_len) orelse return .invalid_argument;
    const account_ptr = account orelse return .invalid_argument;
    const leaf_ptr = leaf orelse return .invalid_argument;
    const depth = core.state.depth();
    if (index >= depthWidth(core)) return .index_out_of_range;
    if (siblings_out.len / 32 < depth) return .buffer_too_small;
    var path: [smt.depth_max]Fr = undefined;
    core.state.tree.witness(index, path[0..depth]);
    for (path[0..depth], 0..) |sibling, l| siblings_out[32 * l ..][0..32].* = sibling.toBytes();
    writeAccount(account_ptr, core.state.get(index));
    leaf_ptr.* = core.state.tree.leaf(index).toBytes();
    return .ok;
}

pub export fn pq_core_snapshot_size(handle: ?*const Handle, out: ?*align(1) usize) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const out_ptr = out orelse return .invalid_argument;
    out_ptr.* = snapshot.size(&core.state);
    return .ok;
}

pub export fn pq_core_snapshot_export(handle: ?*const Handle, buf: ?[*]u8, buf_len: usize, written: ?*align(1) usize) callconv(.c) Status {
    const core = coreOf(handle) orelse return .invalid_argument;
    const buf_out = output(buf, buf_len) orelse return .invalid_argument;
    const written_ptr = written orelse return .invalid_argument;
    const size = snapshot.size(&core.state);
    if (buf_out.len < size) return .buffer_too_small;
    written_ptr.* = snapshot.write(allocator, &core.state, buf_out[0..size]) catch return .out_of_memory;
    return .ok;
}

pub export fn pq_core_snapshot_import(buf: ?[*]const u8, len: usize, capacity_hint: u64, out: ?*align(1) ?*Handle) callconv(.c) Status {
    const out_ptr = out orelse return .invalid_argument;
    out_ptr.* = null;
    const bytes = input(buf, len) orelse return .invalid_argument;
    const core = allocator.create(Core) catch return .out_of_memory;
    core.batch = exec.Batch.init(allocator) catch {
        allocator.destroy(core);
        return .out_of_memory;
    };
    core.state = snapshot.read(allocator, bytes, clampHint(capacity_hint), &core.batch.lanes) catch |err| {
        core.batch.deinit(allocator);
        allocator.destroy(core);
        return switch (err) {
            error.SnapshotInvalid => .snapshot_invalid,
            error.OutOfMemory => .out_of_memory,
        };
    };
    core.magic = Core.live;
    out_ptr.* = handleOf(core);
    return .ok;
}

pub export fn pq_poseidon2_compress_batch(lefts: ?[*]const u8, rights: ?[*]const u8, out: ?[*]u8, n: usize) callconv(.c) Status {
    if (n > compress_batch_max) return .invalid_argument;
    if (n == 0) return .ok;
    const lefts_ptr = lefts orelse return .invalid_argument;
    const rights_ptr = rights orelse return .invalid_argument;
    const out_ptr = out orelse return .invalid_argument;
    // Chunks on the stack: cgo may run this on a small thread stack.
    const chunk = 64;
    var left: [chunk]Fr = undefined;
    var right: [chunk]Fr = undefined;
    var hashed: [chunk]Fr = undefined;
    var start: usize = 0;
    while (start < n) : (start += chunk) {
        const m = @min(chunk, n - start);
        for (0..m) |i| {
            const offset = 32 * (start + i);
            left[i] = Fr.fromCanonicalBytes(lefts_ptr[offset..][0..32]) orelse return .non_canonical;
            right[i] = Fr.fromCanonicalBytes(rights_ptr[offset..][0..32]) orelse return .non_canonical;
        }
        poseidon2.compressBatch(left[0..m], right[0..m], hashed[0..m]);
        for (hashed[0..m], 0..) |h, i| out_ptr[32 * (start + i) ..][0..32].* = h.toBytes();
    }
    return .ok;
}

pub export fn pq_poseidon2_impl() callconv(.c) c_int {
    return switch (poseidon2.activeKernel()) {
        .portable => 0,
        .ifma => 1,
    };
}

pub export fn pq_poseidon2_force_portable(force: c_int) callconv(.c) void {
    poseidon2.forcePortable(force != 0);
}

const testing = std.testing;

fn depositRecord(index: u32, key: u64, amount: u64) [exec.tx_size]u8 {
    var r: [exec.tx_size]u8 = @splat(0);
    r[7] = @intFromEnum(exec.TxType.deposit);
    std.mem.writeInt(u32, r[8..12], index, .big);
    std.mem.writeInt(u64, r[16..24], amount, .big);
    std.mem.writeInt(u64, r[64 + 24 ..][0..8], key, .big);
    std.mem.writeInt(u64, r[96 + 24 ..][0..8], key + 1, .big);
    return r;
}

const TestOutputs = struct {
    statuses: [4]u8 = undefined,
    roots: [4 * 32]u8 = undefined,
    wleaves: [4 * 32]u8 = undefined,
    result: BatchResult = undefined,

    fn apply(o: *TestOutputs, handle: ?*Handle, txs: []const u8) Status {
        return pq_core_apply_batch(handle, txs.ptr, txs.len, &o.statuses, o.statuses.len, &o.roots, o.roots.len, &o.wleaves, o.wleaves.len, &o.result);
    }
};

test "abi: handles and arguments are checked" {
    var handle: ?*Handle = undefined;
    try testing.expectEqual(Status.invalid_argument, pq_core_new(1, 0, &handle));
    try testing.expectEqual(@as(?*Handle, null), handle);
    try testing.expectEqual(Status.invalid_argument, pq_core_new(33, 0, &handle));
    try testing.expectEqual(Status.invalid_argument, pq_core_new(8, 0, null));
    try testing.expectEqual(Status.ok, pq_core_new(4, std.math.maxInt(u64), &handle));
    defer pq_core_free(handle);
    pq_core_free(null);

    var depth: u32 = 0;
    try testing.expectEqual(Status.ok, pq_core_depth(handle, &depth));
    try testing.expectEqual(@as(u32, 4), depth);
    try testing.expectEqual(Status.invalid_argument, pq_core_depth(null, &depth));
    try testing.expectEqual(Status.invalid_argument, pq_core_depth(handle, null));
    var not_a_core: [64]u64 align(64) = @splat(0);
    try testing.expectEqual(Status.invalid_argument, pq_core_depth(@ptrCast(&not_a_core), &depth));
    try testing.expectEqual(Status.invalid_argument, pq_core_depth(@ptrFromInt(@intFromPtr(&not_a_core) + 1), &depth));

    var root: [32]u8 = undefined;
    try testing.expectEqual(Status.ok, pq_core_root(handle, &root));
    try testing.expectEqualSlices(u8, &smt.emptySubtrees()[4].toBytes(), &root);
    var account: Account = undefined;
    try testing.expectEqual(Status.index_out_of_range, pq_core_get_account(handle, 16, &account));
    try testing.expectEqual(Status.ok, pq_core_get_account(handle, 15, &account));
    try testing.expectEqual(@as(u8, 0), account.exists);

    var o: TestOutputs = .{};
    const record = depositRecord(3, 9, 100);
    try testing.expectEqual(Status.invalid_argument, pq_core_apply_batch(handle, null, 160, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.malformed, pq_core_apply_batch(handle, null, 0, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.buffer_too_small, pq_core_apply_batch(handle, &record, 160, null, 0, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.invalid_argument, pq_core_apply_batch(handle, &record, 160, &o.statuses, 4, null, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.invalid_argument, pq_core_apply_batch(handle, &record, 160, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, null));
    try testing.expectEqual(Status.invalid_argument, pq_core_apply_batch(handle, &record, 160, null, 4, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.malformed, pq_core_apply_batch(handle, &record, 0, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.malformed, pq_core_apply_batch(handle, &record, 159, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.buffer_too_small, pq_core_apply_batch(handle, &record, 160, &o.statuses, 0, &o.roots, 128, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.buffer_too_small, pq_core_apply_batch(handle, &record, 160, &o.statuses, 4, &o.roots, 31, &o.wleaves, 128, &o.result));
    try testing.expectEqual(Status.buffer_too_small, pq_core_apply_batch(handle, &record, 160, &o.statuses, 4, &o.roots, 128, &o.wleaves, 31, &o.result));
    try testing.expectEqual(Status.batch_too_large, pq_core_apply_batch(handle, &record, 160 * 4097, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, &o.result));
    var bad = record;
    bad[7] = 7;
    try testing.expectEqual(Status.unknown_type, o.apply(handle, &bad));
    try testing.expectEqual(Status.ok, pq_core_root(handle, &root));
    try testing.expectEqualSlices(u8, &smt.emptySubtrees()[4].toBytes(), &root);

    try testing.expectEqual(Status.ok, o.apply(handle, &record));
    try testing.expectEqual(@as(u8, 0), o.statuses[0]);
    try testing.expectEqual(@as(u32, 1), o.result.applied);
    try testing.expectEqualSlices(u8, &o.result.final_root, o.roots[0..32]);
    var count: u64 = 0;
    try testing.expectEqual(Status.ok, pq_core_account_count(handle, &count));
    try testing.expectEqual(@as(u64, 1), count);
    try testing.expectEqual(Status.ok, pq_core_get_account(handle, 3, &account));
    try testing.expectEqual(@as(u8, 1), account.exists);
    try testing.expectEqual(@as(u64, 100), account.balance);
    try testing.expectEqualSlices(u8, &Fr.fromU64(9).toBytes(), &account.pk_x);
}

fn verifyWitness(leaf: [32]u8, index: u32, siblings: []const u8, root: [32]u8) bool {
    var h = Fr.fromCanonicalBytes(&leaf).?;
    for (0..siblings.len / 32) |l| {
        const s = Fr.fromCanonicalBytes(siblings[32 * l ..][0..32]).?;
        h = if ((index >> @intCast(l)) & 1 == 0) poseidon2.compress(h, s) else poseidon2.compress(s, h);
    }
    return std.mem.eql(u8, &h.toBytes(), &root);
}

test "abi: witnesses verify for present and absent accounts" {
    var handle: ?*Handle = undefined;
    try testing.expectEqual(Status.ok, pq_core_new(5, 8, &handle));
    defer pq_core_free(handle);
    var txs: [3 * exec.tx_size]u8 = undefined;
    for ([_]u32{ 0, 7, 30 }, 0..) |index, k| txs[k * exec.tx_size ..][0..exec.tx_size].* = depositRecord(index, index + 1, 5);
    var o: TestOutputs = .{};
    try testing.expectEqual(Status.ok, o.apply(handle, &txs));
    var root: [32]u8 = undefined;
    _ = pq_core_root(handle, &root);

    var siblings: [5 * 32]u8 = undefined;
    var account: Account = undefined;
    var leaf: [32]u8 = undefined;
    for ([_]u32{ 0, 7, 30, 1, 6, 31 }) |index| {
        try testing.expectEqual(Status.ok, pq_core_witness(handle, index, &siblings, siblings.len, &account, &leaf));
        try testing.expect(verifyWitness(leaf, index, &siblings, root));
        const present = index == 0 or index == 7 or index == 30;
        try testing.expectEqual(@intFromBool(present), account.exists);
        if (!present) try testing.expectEqualSlices(u8, &([_]u8{0} ** 32), &leaf);
    }
    try testing.expectEqual(Status.index_out_of_range, pq_core_witness(handle, 32, &siblings, siblings.len, &account, &leaf));
    try testing.expectEqual(Status.buffer_too_small, pq_core_witness(handle, 3, &siblings, siblings.len - 1, &account, &leaf));
    try testing.expectEqual(Status.invalid_argument, pq_core_witness(handle, 3, null, siblings.len, &account, &leaf));
    try testing.expectEqual(Status.buffer_too_small, pq_core_witness(handle, 3, null, 0, &account, &leaf));
    try testing.expectEqual(Status.invalid_argument, pq_core_witness(handle, 3, &siblings, siblings.len, null, &leaf));
    try testing.expectEqual(Status.invalid_argument, pq_core_witness(handle, 3, &siblings, siblings.len, &account, null));
}

test "abi: apply with witnesses checks its arguments and gives the outputs of apply" {
    const depth = 5;
    var plain: ?*Handle = undefined;
    var traced: ?*Handle = undefined;
    try testing.expectEqual(Status.ok, pq_core_new(depth, 8, &plain));
    defer pq_core_free(plain);
    try testing.expectEqual(Status.ok, pq_core_new(depth, 8, &traced));
    defer pq_core_free(traced);
    // A deposit into 3, a deposit into 40 (outside the tree), a transfer 3 -> 7 (empty), a no-op.
    var txs: [4 * exec.tx_size]u8 = @splat(0);
    txs[0..exec.tx_size].* = depositRecord(3, 9, 100);
    txs[exec.tx_size..][0..exec.tx_size].* = depositRecord(40, 9, 1);
    txs[2 * exec.tx_size + 7] = @intFromEnum(exec.TxType.transfer);
    std.mem.writeInt(u32, txs[2 * exec.tx_size + 8 ..][0..4], 3, .big);
    std.mem.writeInt(u32, txs[2 * exec.tx_size + 12 ..][0..4], 7, .big);

    const entry = witness.entry_fixed + 32 * depth;
    const per_tx = witness.entries_per_tx * entry;
    var entries: [4 * per_tx]u8 = undefined;
    var o: TestOutputs = .{};
    const Call = struct {
        fn run(h: ?*Handle, data: []const u8, out: *TestOutputs, w: ?[*]u8, w_len: usize) Status {
            return pq_core_apply_batch_witness(h, data.ptr, data.len, &out.statuses, out.statuses.len, &out.roots, out.roots.len, &out.wleaves, out.wleaves.len, &out.result, w, w_len);
        }
    };
    try testing.expectEqual(Status.invalid_argument, Call.run(traced, &txs, &o, null, entries.len));
    try testing.expectEqual(Status.buffer_too_small, Call.run(traced, &txs, &o, null, 0));
    try testing.expectEqual(Status.buffer_too_small, Call.run(traced, &txs, &o, &entries, entries.len - 1));
    try testing.expectEqual(Status.invalid_argument, Call.run(null, &txs, &o, &entries, entries.len));
    try testing.expectEqual(Status.malformed, Call.run(traced, txs[0..159], &o, &entries, entries.len));
    try testing.expectEqual(Status.invalid_argument, pq_core_apply_batch_witness(traced, &txs, txs.len, &o.statuses, 4, &o.roots, 128, &o.wleaves, 128, null, &entries, entries.len));
    try testing.expectEqual(Status.buffer_too_small, pq_core_apply_batch_witness(traced, &txs, txs.len, &o.statuses, 3, &o.roots, 128, &o.wleaves, 128, &o.result, &entries, entries.len));
    var bad = txs;
    bad[3 * exec.tx_size + 7] = 7;
    try testing.expectEqual(Status.unknown_type, Call.run(traced, &bad, &o, &entries, entries.len));
    // None of the refused calls changed the state.
    const empty_root = smt.emptySubtrees()[depth].toBytes();
    var root: [32]u8 = undefined;
    try testing.expectEqual(Status.ok, pq_core_root(traced, &root));
    try testing.expectEqualSlices(u8, &empty_root, &root);

    try testing.expectEqual(Status.ok, Call.run(traced, &txs, &o, &entries, entries.len));
    var want: TestOutputs = .{};
    try testing.expectEqual(Status.ok, want.apply(plain, &txs));
    try testing.expectEqualSlices(u8, &want.statuses, &o.statuses);
    try testing.expectEqualSlices(u8, &want.roots, &o.roots);
    try testing.expectEqualSlices(u8, &want.wleaves, &o.wleaves);
    try testing.expectEqualSlices(u8, std.mem.asBytes(&want.result), std.mem.asBytes(&o.result));
    var plain_root: [32]u8 = undefined;
    _ = pq_core_root(plain, &plain_root);
    _ = pq_core_root(traced, &root);
    try testing.expectEqualSlices(u8, &plain_root, &root);
    const statuses = [_]exec.TxStatus{ .ok, .index_out_of_range, .recipient_not_found, .ok };
    for (statuses, o.statuses) |s, got| try testing.expectEqual(@intFromEnum(s), got);

    // The first deposit: index 3, empty, against the empty root; entry B repeats entry A.
    try testing.expectEqual(@as(u32, 3), std.mem.readInt(u32, entries[0..4], .big));
    try testing.expectEqual(@as(u8, 0), entries[4]);
    try testing.expect(verifyWitness(entries[88..120].*, 3, entries[120..entry], empty_root));
    try testing.expectEqualSlices(u8, entries[0..entry], entries[entry..per_tx]);
    // The second deposit: only its index is set.
    try testing.expectEqual(@as(u32, 40), std.mem.readInt(u32, entries[per_tx..][0..4], .big));
    for (entries[per_tx + 4 ..][0 .. entry - 4]) |byte| try testing.expectEqual(@as(u8, 0), byte);
    // The transfer: the sender as the first deposit left it, the recipient empty.
    const sender = entries[2 * per_tx ..][0..entry];
    const recipient = entries[2 * per_tx + entry ..][0..entry];
    try testing.expectEqual(@as(u8, 1), sender[4]);
    try testing.expectEqual(@as(u64, 100), std.mem.readInt(u64, sender[72..80], .big));
    try testing.expectEqual(@as(u32, 7), std.mem.readInt(u32, recipient[0..4], .big));
    try testing.expectEqual(@as(u8, 0), recipient[4]);
    try testing.expect(verifyWitness(sender[88..120].*, 3, sender[120..], o.roots[32..64].*));
    try testing.expect(verifyWitness(recipient[88..120].*, 7, recipient[120..], o.roots[32..64].*));
}

test "abi: snapshot export and import" {
    var handle: ?*Handle = undefined;
    try testing.expectEqual(Status.ok, pq_core_new(6, 0, &handle));
    defer pq_core_free(handle);
    var o: TestOutputs = .{};
    const record = depositRecord(9, 4, 77);
    try testing.expectEqual(Status.ok, o.apply(handle, &record));

    var size: usize = 0;
    try testing.expectEqual(Status.ok, pq_core_snapshot_size(handle, &size));
    try testing.expectEqual(@as(usize, 24 + 88 + 32), size);
    var buf: [24 + 88 + 32]u8 = undefined;
    var written: usize = 0;
    try testing.expectEqual(Status.buffer_too_small, pq_core_snapshot_export(handle, &buf, size - 1, &written));
    try testing.expectEqual(Status.invalid_argument, pq_core_snapshot_export(handle, &buf, size, null));
    try testing.expectEqual(Status.ok, pq_core_snapshot_export(handle, &buf, buf.len, &written));
    try testing.expectEqual(size, written);

    var copy: ?*Handle = undefined;
    try testing.expectEqual(Status.ok, pq_core_snapshot_import(&buf, buf.len, 0, &copy));
    defer pq_core_free(copy);
    var a: [32]u8 = undefined;
    var b: [32]u8 = undefined;
    _ = pq_core_root(handle, &a);
    _ = pq_core_root(copy, &b);
    try testing.expectEqualSlices(u8, &a, &b);
    // The imported core executes batches.
    try testing.expectEqual(Status.ok, o.apply(copy, &depositRecord(9, 4, 1)));
    try testing.expectEqual(@as(u8, 0), o.statuses[0]);

    var rejected: ?*Handle = undefined;
    buf[buf.len - 1] ^= 1;
    try testing.expectEqual(Status.snapshot_invalid, pq_core_snapshot_import(&buf, buf.len, 0, &rejected));
    try testing.expectEqual(@as(?*Handle, null), rejected);
    try testing.expectEqual(Status.snapshot_invalid, pq_core_snapshot_import(null, 0, 0, &rejected));
    try testing.expectEqual(Status.invalid_argument, pq_core_snapshot_import(null, 10, 0, &rejected));
    try testing.expectEqual(Status.buffer_too_small, pq_core_snapshot_export(handle, null, 0, &written));
    try testing.expectEqual(Status.invalid_argument, pq_core_snapshot_import(&buf, buf.len, 0, null));
}

test "abi: poseidon2 batch" {
    var lefts: [3 * 32]u8 = undefined;
    var rights: [3 * 32]u8 = undefined;
    var out: [3 * 32]u8 = undefined;
    for (0..3) |i| {
        lefts[32 * i ..][0..32].* = Fr.fromU64(i).toBytes();
        rights[32 * i ..][0..32].* = Fr.fromU64(100 + i).toBytes();
    }
    try testing.expectEqual(Status.ok, pq_poseidon2_compress_batch(&lefts, &rights, &out, 3));
    for (0..3) |i| {
        try testing.expectEqualSlices(u8, &poseidon2.compress(Fr.fromU64(i), Fr.fromU64(100 + i)).toBytes(), out[32 * i ..][0..32]);
    }
    try testing.expectEqual(Status.ok, pq_poseidon2_compress_batch(null, null, null, 0));
    try testing.expectEqual(Status.invalid_argument, pq_poseidon2_compress_batch(&lefts, null, &out, 3));
    try testing.expectEqual(Status.invalid_argument, pq_poseidon2_compress_batch(&lefts, &rights, &out, 2 * exec.max_batch_txs + 1));
    @memset(rights[32..64], 0xff);
    try testing.expectEqual(Status.non_canonical, pq_poseidon2_compress_batch(&lefts, &rights, &out, 3));

    pq_poseidon2_force_portable(1);
    try testing.expectEqual(@as(c_int, 0), pq_poseidon2_impl());
    pq_poseidon2_force_portable(0);
    const impl = pq_poseidon2_impl();
    try testing.expect(impl == 0 or impl == 1);
}
