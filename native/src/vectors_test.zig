//! The shared test vectors (testdata/vectors.json, generated from the Go reference; schema in
//! testdata/README.md) run through the C ABI entry points, the same path Go's calls take.
//! `zig build test` runs with the repository root as the working directory.
const std = @import("std");
const testing = std.testing;
const Allocator = std.mem.Allocator;
const Value = std.json.Value;

const Fr = @import("fr.zig").Fr;
const poseidon2 = @import("poseidon2.zig");
const smt = @import("smt.zig");
const state_mod = @import("state.zig");
const exec = @import("exec.zig");
const abi = @import("abi.zig");

const vectors_path = "testdata/vectors.json";

const Vectors = struct {
    arena: std.heap.ArenaAllocator,
    root: Value,

    fn load() !Vectors {
        var arena = std.heap.ArenaAllocator.init(testing.allocator);
        errdefer arena.deinit();
        const text = std.fs.cwd().readFileAlloc(arena.allocator(), vectors_path, 256 << 20) catch |err| {
            std.debug.print("cannot read {s} ({s}): the shared vectors are required; " ++
                "generate them with `make vectors` and run from the repository root\n", .{ vectors_path, @errorName(err) });
            return err;
        };
        const root = try std.json.parseFromSliceLeaky(Value, arena.allocator(), text, .{});
        try testing.expectEqual(@as(i64, 1), root.object.get("version").?.integer);
        return .{ .arena = arena, .root = root };
    }

    fn deinit(v: *Vectors) void {
        v.arena.deinit();
    }

    fn array(v: *const Vectors, name: []const u8) []const Value {
        return v.root.object.get(name).?.array.items;
    }
};

fn field(object: Value, name: []const u8) Value {
    return object.object.get(name) orelse std.debug.panic("vector field {s} missing", .{name});
}

fn hexBytes(allocator: Allocator, value: Value) ![]u8 {
    const text = value.string;
    try testing.expect(std.mem.startsWith(u8, text, "0x"));
    const out = try allocator.alloc(u8, (text.len - 2) / 2);
    _ = try std.fmt.hexToBytes(out, text[2..]);
    return out;
}

fn word(value: Value) ![32]u8 {
    const text = value.string;
    try testing.expectEqual(@as(usize, 66), text.len);
    var out: [32]u8 = undefined;
    _ = try std.fmt.hexToBytes(&out, text[2..]);
    return out;
}

fn element(value: Value) !Fr {
    return Fr.fromCanonicalBytes(&try word(value)) orelse error.NonCanonicalVector;
}

fn int(value: Value) !u64 {
    return std.fmt.parseInt(u64, value.string, 10);
}

fn expectElement(want: Value, got: Fr) !void {
    try testing.expectEqualSlices(u8, &try word(want), &got.toBytes());
}

test "vectors: poseidon2, hash_md, empty subtrees, leaves" {
    var v = try Vectors.load();
    defer v.deinit();
    const allocator = v.arena.allocator();

    const compress_cases = v.array("poseidon2");
    try testing.expect(compress_cases.len > 0);
    for (compress_cases) |c| {
        try expectElement(field(c, "compress"), poseidon2.compress(try element(field(c, "left")), try element(field(c, "right"))));
    }

    const md_cases = v.array("hash_md");
    try testing.expect(md_cases.len > 0);
    for (md_cases) |c| {
        const inputs = field(c, "inputs").array.items;
        const elems = try allocator.alloc(Fr, inputs.len);
        for (inputs, elems) |input, *e| e.* = try element(input);
        try expectElement(field(c, "hash"), poseidon2.hashMD(elems));
    }

    const empty = v.array("empty_subtrees");
    try testing.expectEqual(@as(usize, smt.depth_max + 1), empty.len);
    const z = smt.emptySubtrees();
    for (empty, z) |want, got| try expectElement(want, got);

    const leaves = v.array("leaves");
    try testing.expect(leaves.len > 0);
    for (leaves) |c| {
        const pk_x = try element(field(c, "pk_x"));
        const pk_y = try element(field(c, "pk_y"));
        const account: state_mod.Account = .{
            .index = 0,
            .pk_x = pk_x,
            .pk_y = pk_y,
            .pk_hash = state_mod.Account.hashKey(pk_x, pk_y),
            .balance = try int(field(c, "balance")),
            .nonce = try int(field(c, "nonce")),
        };
        try expectElement(field(c, "leaf"), account.leaf());
    }
}

fn callError(name: []const u8) ?abi.Status {
    const map = [_]struct { []const u8, abi.Status }{
        .{ "malformed", .malformed },
        .{ "unknown_type", .unknown_type },
        .{ "non_canonical", .non_canonical },
        .{ "batch_too_large", .batch_too_large },
    };
    for (map) |entry| if (std.mem.eql(u8, entry[0], name)) return entry[1];
    return null;
}

fn rootOf(handle: ?*abi.Handle) ![32]u8 {
    var root: [32]u8 = undefined;
    try testing.expectEqual(abi.Status.ok, abi.pq_core_root(handle, &root));
    return root;
}

/// Builds the docs/protocol.md §9 snapshot of a case's pre_state accounts.
fn preStateSnapshot(allocator: Allocator, depth: u32, accounts: []const Value, root: Value) ![]u8 {
    const header_size = 24;
    const entry_size = 88;
    const out = try allocator.alloc(u8, header_size + accounts.len * entry_size + 32);
    @memset(out, 0);
    @memcpy(out[0..8], "PQSNAP01");
    out[8] = @intCast(depth);
    std.mem.writeInt(u64, out[16..24], accounts.len, .big);
    for (accounts, 0..) |a, i| {
        const entry = out[header_size + i * entry_size ..][0..entry_size];
        std.mem.writeInt(u32, entry[0..4], @intCast(field(a, "index").integer), .big);
        entry[4..36].* = try word(field(a, "pk_x"));
        entry[36..68].* = try word(field(a, "pk_y"));
        std.mem.writeInt(u64, entry[68..76], try int(field(a, "balance")), .big);
        std.mem.writeInt(u64, entry[76..84], try int(field(a, "nonce")), .big);
    }
    out[out.len - 32 ..][0..32].* = try word(root);
    return out;
}

fn runCase(allocator: Allocator, c: Value) !void {
    const depth: u32 = @intCast(field(c, "depth").integer);
    var handle: ?*abi.Handle = null;
    if (c.object.get("pre_state")) |pre_state| {
        // States no transaction reaches (a nonce of 2^64-1) enter as a snapshot, whose trailer
        // is the root the Go reference computed: this also cross-checks the snapshot format.
        const snapshot = try preStateSnapshot(allocator, depth, pre_state.array.items, field(c, "pre_state_root"));
        try testing.expectEqual(abi.Status.ok, abi.pq_core_snapshot_import(snapshot.ptr, snapshot.len, 16, &handle));
    } else {
        try testing.expectEqual(abi.Status.ok, abi.pq_core_new(depth, 16, &handle));
    }
    defer abi.pq_core_free(handle);

    for (field(c, "batches").array.items) |b| {
        const txs = try hexBytes(allocator, field(b, "txs"));
        const n = @max(txs.len / exec.tx_size, 1);
        const statuses = try allocator.alloc(u8, n);
        const post_roots = try allocator.alloc(u8, 32 * n);
        const withdrawal_leaves = try allocator.alloc(u8, 32 * n);
        var result: abi.BatchResult = undefined;
        const root_before = try rootOf(handle);
        var count_before: u64 = 0;
        _ = abi.pq_core_account_count(handle, &count_before);

        const status = abi.pq_core_apply_batch(handle, txs.ptr, txs.len, statuses.ptr, statuses.len, post_roots.ptr, post_roots.len, withdrawal_leaves.ptr, withdrawal_leaves.len, &result);
        const want_error = field(b, "error").string;
        if (want_error.len > 0) {
            try testing.expectEqual(callError(want_error) orelse return error.UnknownVectorError, status);
            try testing.expectEqualSlices(u8, &root_before, &try rootOf(handle));
            var count_after: u64 = 0;
            _ = abi.pq_core_account_count(handle, &count_after);
            try testing.expectEqual(count_before, count_after);
            continue;
        }
        try testing.expectEqual(abi.Status.ok, status);

        const want_statuses = field(b, "statuses").array.items;
        try testing.expectEqual(want_statuses.len, n);
        for (want_statuses, statuses) |want, got| try testing.expectEqual(want.integer, got);
        const want_roots = field(b, "post_roots").array.items;
        try testing.expectEqual(n, want_roots.len);
        for (want_roots, 0..) |want, k| try testing.expectEqualSlices(u8, &try word(want), post_roots[32 * k ..][0..32]);
        const want_leaves = field(b, "withdrawal_leaves").array.items;
        try testing.expectEqual(n, want_leaves.len);
        for (want_leaves, 0..) |want, k| try testing.expectEqualSlices(u8, &try word(want), withdrawal_leaves[32 * k ..][0..32]);
        try testing.expectEqualSlices(u8, &try word(field(b, "final_root")), &result.final_root);
        try testing.expectEqualSlices(u8, &try word(field(b, "trace_root")), &result.trace_root);
        try testing.expectEqualSlices(u8, &try word(field(b, "withdrawal_root")), &result.withdrawal_root);
        var applied: u32 = 0;
        for (statuses) |s| applied += @intFromBool(s == 0);
        try testing.expectEqual(applied, result.applied);
        try testing.expectEqual(@as(u32, @intCast(n)) - applied, result.rejected);

        // The core does not compute the data hash; checking it here keeps the vectors' words
        // and the MD hasher in agreement.
        const words = try allocator.alloc(Fr, 5 * n);
        for (words, 0..) |*w, i| w.* = Fr.fromCanonicalBytes(txs[32 * i ..][0..32]).?;
        try expectElement(field(b, "data_hash"), poseidon2.hashMD(words));
    }

    const accounts = field(c, "accounts_after").array.items;
    var count: u64 = 0;
    _ = abi.pq_core_account_count(handle, &count);
    try testing.expectEqual(@as(u64, accounts.len), count);
    for (accounts) |a| {
        var got: abi.Account = undefined;
        const index: u32 = @intCast(field(a, "index").integer);
        try testing.expectEqual(abi.Status.ok, abi.pq_core_get_account(handle, index, &got));
        try testing.expectEqual(@as(u8, 1), got.exists);
        try testing.expectEqualSlices(u8, &try word(field(a, "pk_x")), &got.pk_x);
        try testing.expectEqualSlices(u8, &try word(field(a, "pk_y")), &got.pk_y);
        try testing.expectEqual(try int(field(a, "balance")), got.balance);
        try testing.expectEqual(try int(field(a, "nonce")), got.nonce);
    }
    try testing.expectEqualSlices(u8, &try word(field(c, "root_after")), &try rootOf(handle));
}

test "vectors: batches through the C ABI" {
    var v = try Vectors.load();
    defer v.deinit();
    var ran: usize = 0;
    var mldsa: usize = 0; // cases with ML-DSA accounts (types 5/6, key_kind_mismatch)
    for (v.array("cases")) |c| {
        // Signature checks are the caller's job (docs §6): those cases assume a verifier.
        if (field(c, "verify_signatures").bool) continue;
        runCase(v.arena.allocator(), c) catch |err| {
            std.debug.print("vector case \"{s}\" failed\n", .{field(c, "name").string});
            return err;
        };
        ran += 1;
        mldsa += @intFromBool(std.mem.startsWith(u8, field(c, "name").string, "mldsa:"));
    }
    try testing.expect(ran > 0 and mldsa > 0);
}
