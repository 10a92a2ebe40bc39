//! The sparse Merkle tree of accounts (docs/protocol.md §4.3) and the fixed-depth list trees of a
//! batch (§8.1).
//!
//! Every non-empty node is cached, one hash map per level; an absent node is the empty-subtree
//! hash Z[level]. Nothing is ever recomputed from the leaves except when a snapshot is imported.
//!
//! Hashing is always batched: the protocol needs the root after every transaction, so a batch
//! is rehashed level by level, each level's parents (for all transactions) in one `compressBatch`
//! call whose pairs are independent and run on the vectorised Poseidon2 at full width.
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const Fr = @import("fr.zig").Fr;
const poseidon2 = @import("poseidon2.zig");

/// Smallest tree with an internal level between the leaves and the root (docs §3).
pub const depth_min = 2;
/// Account indices are u32 (docs §3).
pub const depth_max = 32;

/// Z[l], the hash of an empty subtree of height l; Z[0] = 0.
pub const EmptySubtrees = [depth_max + 1]Fr;

pub fn emptySubtrees() EmptySubtrees {
    var z: EmptySubtrees = undefined;
    z[0] = Fr.zero;
    for (1..z.len) |level| z[level] = poseidon2.compress(z[level - 1], z[level - 1]);
    return z;
}

/// A node value at a position of one level.
pub const Node = struct {
    pos: u32,
    value: Fr,
};

/// A node value as of after transaction `tx` of a batch.
pub const Update = struct {
    tx: u32,
    pos: u32,
    value: Fr,
};

/// Inputs and outputs of one batched Compress call, allocated once at a fixed capacity.
pub const Lanes = struct {
    left: []Fr,
    right: []Fr,
    out: []Fr,
    len: usize = 0,
    /// Compresses run through these lanes since init, for measurements.
    compresses: u64 = 0,

    pub fn init(allocator: Allocator, size: usize) Allocator.Error!Lanes {
        const left = try allocator.alloc(Fr, size);
        errdefer allocator.free(left);
        const right = try allocator.alloc(Fr, size);
        errdefer allocator.free(right);
        const out = try allocator.alloc(Fr, size);
        return .{ .left = left, .right = right, .out = out };
    }

    pub fn deinit(lanes: *Lanes, allocator: Allocator) void {
        allocator.free(lanes.left);
        allocator.free(lanes.right);
        allocator.free(lanes.out);
        lanes.* = undefined;
    }

    pub fn capacity(lanes: *const Lanes) usize {
        return lanes.out.len;
    }

    pub fn reset(lanes: *Lanes) void {
        lanes.len = 0;
    }

    /// Queues Compress(left, right); its result will be `out[returned index]`.
    pub fn push(lanes: *Lanes, left: Fr, right: Fr) usize {
        assert(lanes.len < lanes.capacity());
        const i = lanes.len;
        lanes.left[i] = left;
        lanes.right[i] = right;
        lanes.len = i + 1;
        return i;
    }

    pub fn run(lanes: *Lanes) void {
        const n = lanes.len;
        poseidon2.compressBatch(lanes.left[0..n], lanes.right[0..n], lanes.out[0..n]);
        lanes.compresses += n;
    }
};

/// Per-batch working memory of `Tree.applyUpdates`, sized once for the largest batch.
pub const UpdateScratch = struct {
    a: []Update,
    b: []Update,
    /// Position -> latest value at the level being rehashed, within the batch.
    overlay: std.AutoHashMapUnmanaged(u32, Fr),

    pub fn init(allocator: Allocator, capacity: u32) Allocator.Error!UpdateScratch {
        const a = try allocator.alloc(Update, capacity);
        errdefer allocator.free(a);
        const b = try allocator.alloc(Update, capacity);
        errdefer allocator.free(b);
        var overlay: std.AutoHashMapUnmanaged(u32, Fr) = .empty;
        try overlay.ensureTotalCapacity(allocator, capacity);
        return .{ .a = a, .b = b, .overlay = overlay };
    }

    pub fn deinit(scratch: *UpdateScratch, allocator: Allocator) void {
        allocator.free(scratch.a);
        allocator.free(scratch.b);
        scratch.overlay.deinit(allocator);
        scratch.* = undefined;
    }
};

pub const Tree = struct {
    depth: u32,
    empty: EmptySubtrees,
    /// levels[l] holds the non-empty nodes of level l < depth (level 0: the leaves).
    levels: [depth_max]NodeMap,
    root: Fr,

    const NodeMap = std.AutoHashMapUnmanaged(u32, Fr);

    pub fn init(allocator: Allocator, depth: u32, capacity_hint: u32) Allocator.Error!Tree {
        assert(depth >= depth_min and depth <= depth_max);
        var tree: Tree = .{
            .depth = depth,
            .empty = emptySubtrees(),
            .levels = @splat(.empty),
            .root = undefined,
        };
        tree.root = tree.empty[depth];
        errdefer tree.deinit(allocator);
        try tree.reserve(allocator, capacity_hint);
        return tree;
    }

    pub fn deinit(tree: *Tree, allocator: Allocator) void {
        for (&tree.levels) |*level| level.deinit(allocator);
        tree.* = undefined;
    }

    /// Makes room for `new_leaves` leaves that are empty now, so that writing them and their
    /// paths cannot allocate: each new node at any level lies above at least one new leaf.
    pub fn reserve(tree: *Tree, allocator: Allocator, new_leaves: u32) Allocator.Error!void {
        for (tree.levels[0..tree.depth], 0..) |*level, l| {
            const width = @as(u64, 1) << @intCast(tree.depth - l);
            const free = width - level.count();
            try level.ensureUnusedCapacity(allocator, @intCast(@min(new_leaves, free)));
        }
    }

    pub fn leafCount(tree: *const Tree) u32 {
        return tree.levels[0].count();
    }

    /// The committed node at (level, pos).
    pub fn node(tree: *const Tree, level: u32, pos: u32) Fr {
        assert(level <= tree.depth);
        assert(tree.depth - level >= 32 or pos >> @intCast(tree.depth - level) == 0);
        if (level == tree.depth) return tree.root;
        return tree.levels[level].get(pos) orelse tree.empty[level];
    }

    pub fn leaf(tree: *const Tree, index: u32) Fr {
        return tree.node(0, index);
    }

    /// The D siblings of `index`'s path, leaf level first (docs §4.3).
    pub fn witness(tree: *const Tree, index: u32, siblings: []Fr) void {
        assert(siblings.len == tree.depth);
        for (siblings, 0..) |*sibling, l| {
            const level: u32 = @intCast(l);
            sibling.* = tree.node(level, (index >> @intCast(level)) ^ 1);
        }
    }

    /// Rehashes the tree for a batch of leaf updates and commits the result.
    ///
    /// `leaf_updates` (in `scratch.a`) are in transaction order, at most two per transaction, at
    /// distinct positions within one transaction. Returns the root after each transaction that
    /// has updates: one `Update` per such transaction at level `depth`, in transaction order.
    /// The caller has reserved room for every new leaf (`reserve`); nothing here can fail.
    pub fn applyUpdates(tree: *Tree, scratch: *UpdateScratch, lanes: *Lanes, count: usize) []const Update {
        assert(count <= scratch.a.len and lanes.capacity() >= count);
        const buffers = [2][]Update{ scratch.a, scratch.b };
        var current = scratch.a[0..count];
        for (0..tree.depth) |l| {
            const level: u32 = @intCast(l);
            const parents = tree.gatherParents(level, current, buffers[(l + 1) % 2], scratch, lanes);
            lanes.run();
            for (parents, lanes.out[0..parents.len]) |*parent, value| parent.value = value;
            // The level's lookups are done: its final values can become the committed ones.
            // In transaction order, so the last value of a position wins.
            for (current) |update| tree.levels[level].putAssumeCapacity(update.pos, update.value);
            current = parents;
        }
        if (current.len > 0) tree.root = current[current.len - 1].value;
        return current;
    }

    /// For each transaction in `updates` (one level), queues its parents' inputs as of after
    /// that transaction and returns their positions in `out` (values filled by the caller).
    fn gatherParents(tree: *const Tree, level: u32, updates: []const Update, out: []Update, scratch: *UpdateScratch, lanes: *Lanes) []Update {
        // Bounds of `out`, `lanes` and the overlay hold for the whole loop: one parent per update.
        assert(out.len >= updates.len and lanes.capacity() >= updates.len);
        assert(scratch.overlay.capacity() >= updates.len);
        const overlay = &scratch.overlay;
        overlay.clearRetainingCapacity();
        lanes.reset();
        var len: usize = 0;
        var i: usize = 0;
        while (i < updates.len) {
            const tx = updates[i].tx;
            var end = i;
            while (end < updates.len and updates[end].tx == tx) : (end += 1) {
                overlay.putAssumeCapacity(updates[end].pos, updates[end].value);
            }
            assert(end - i <= 2);
            const first = len;
            for (updates[i..end]) |update| {
                const parent = update.pos >> 1;
                if (len > first and out[first].pos == parent) continue;
                const left = overlay.get(parent << 1) orelse tree.node(level, parent << 1);
                const right = overlay.get(parent << 1 | 1) orelse tree.node(level, parent << 1 | 1);
                _ = lanes.push(left, right);
                out[len] = .{ .tx = tx, .pos = parent, .value = undefined };
                len += 1;
            }
            i = end;
        }
        return out[0..len];
    }

    /// Fills an empty tree from leaves sorted by strictly increasing position, hashing each level
    /// in batches of the lanes' capacity. `leaves` is overwritten (each level is built in place).
    /// The caller has reserved room for `leaves.len` new leaves.
    pub fn build(tree: *Tree, leaves: []Node, lanes: *Lanes) void {
        assert(tree.leafCount() == 0);
        var current = leaves;
        for (0..tree.depth) |l| {
            const level: u32 = @intCast(l);
            for (current) |n| tree.levels[level].putAssumeCapacity(n.pos, n.value);
            current = tree.hashLevelInPlace(level, current, lanes);
        }
        assert(current.len <= 1);
        if (current.len == 1) tree.root = current[0].value;
    }

    fn hashLevelInPlace(tree: *const Tree, level: u32, nodes: []Node, lanes: *Lanes) []Node {
        var written: usize = 0;
        var read: usize = 0;
        while (read < nodes.len) {
            // Parents are written at or before the first child they consume, and each chunk
            // reads its children before writing any parent, so the level shrinks in place.
            lanes.reset();
            const chunk_start = written;
            while (read < nodes.len and lanes.len < lanes.capacity()) {
                const pos = nodes[read].pos;
                const parent = pos >> 1;
                var left = tree.empty[level];
                var right = tree.empty[level];
                if (pos & 1 == 0) {
                    left = nodes[read].value;
                    read += 1;
                    if (read < nodes.len and nodes[read].pos == pos | 1) {
                        right = nodes[read].value;
                        read += 1;
                    }
                } else {
                    right = nodes[read].value;
                    read += 1;
                }
                nodes[written + lanes.push(left, right)].pos = parent;
            }
            lanes.run();
            for (nodes[chunk_start..][0..lanes.len], lanes.out[0..lanes.len]) |*n, value| n.value = value;
            written += lanes.len;
        }
        return nodes[0..written];
    }
};

/// Root of the depth-`depth` tree whose leaf k is values[k] for k < values.len and 0 otherwise
/// (docs §8.1). `work` holds values.len elements; pairs of two empty subtrees are not hashed,
/// so a mostly-zero list (withdrawal leaves) costs little.
pub fn listRoot(values: []const Fr, depth: u32, empty: *const EmptySubtrees, work: []Fr, lanes: *Lanes, slots: []u32) Fr {
    assert(depth <= depth_max and values.len <= @as(u64, 1) << @intCast(depth));
    assert(work.len >= values.len and slots.len >= values.len and lanes.capacity() >= values.len);
    if (values.len == 0) return empty[depth];
    @memcpy(work[0..values.len], values);
    var len = values.len;
    for (0..depth) |level| {
        const parents = (len + 1) / 2;
        lanes.reset();
        for (0..parents) |p| {
            const left = work[2 * p];
            const right = if (2 * p + 1 < len) work[2 * p + 1] else empty[level];
            if (left.eql(empty[level]) and right.eql(empty[level])) {
                work[p] = empty[level + 1];
            } else {
                slots[lanes.push(left, right)] = @intCast(p);
            }
        }
        lanes.run();
        for (slots[0..lanes.len], lanes.out[0..lanes.len]) |p, value| work[p] = value;
        len = parents;
    }
    assert(len == 1);
    return work[0];
}

const testing = std.testing;

fn naiveRoot(depth: u32, leaves: []const Node) Fr {
    // Oracle: every level's nodes recomputed from a sorted leaf list with single compresses.
    const z = emptySubtrees();
    var buf: [256]Node = undefined;
    @memcpy(buf[0..leaves.len], leaves);
    var current = buf[0..leaves.len];
    for (0..depth) |level| {
        var written: usize = 0;
        var i: usize = 0;
        while (i < current.len) {
            const pos = current[i].pos;
            var left = z[level];
            var right = z[level];
            if (pos & 1 == 0) {
                left = current[i].value;
                i += 1;
                if (i < current.len and current[i].pos == pos | 1) {
                    right = current[i].value;
                    i += 1;
                }
            } else {
                right = current[i].value;
                i += 1;
            }
            current[written] = .{ .pos = pos >> 1, .value = poseidon2.compress(left, right) };
            written += 1;
        }
        current = current[0..written];
    }
    return if (current.len == 0) z[depth] else current[0].value;
}

test "empty tree root is Z[depth]" {
    var tree = try Tree.init(testing.allocator, 8, 16);
    defer tree.deinit(testing.allocator);
    const z = emptySubtrees();
    try testing.expect(tree.root.eql(z[8]));
    try testing.expect(z[1].eql(poseidon2.compress(Fr.zero, Fr.zero)));
    var siblings: [8]Fr = undefined;
    tree.witness(5, &siblings);
    for (siblings, 0..) |s, l| try testing.expect(s.eql(z[l]));
}

fn verifyWitness(leaf_value: Fr, index: u32, siblings: []const Fr, root: Fr) bool {
    var h = leaf_value;
    for (siblings, 0..) |s, l| {
        h = if ((index >> @intCast(l)) & 1 == 0) poseidon2.compress(h, s) else poseidon2.compress(s, h);
    }
    return h.eql(root);
}

test "level-batched updates equal one-transaction-at-a-time recomputation" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(0x5eed);
    const random = prng.random();
    const depth = 6;
    const width = 1 << depth;
    var lanes = try Lanes.init(allocator, 64);
    defer lanes.deinit(allocator);
    var scratch = try UpdateScratch.init(allocator, 64);
    defer scratch.deinit(allocator);

    for (0..12) |round| {
        var tree = try Tree.init(allocator, depth, 0);
        defer tree.deinit(allocator);
        // The oracle's view: a dense copy of the leaves.
        var dense: [width]Fr = @splat(Fr.zero);

        var initial: [width]Node = undefined;
        var initial_len: usize = 0;
        for (0..width) |pos| {
            if (random.uintLessThan(u32, 4) == 0) {
                dense[pos] = Fr.fromU64(random.int(u64));
                initial[initial_len] = .{ .pos = @intCast(pos), .value = dense[pos] };
                initial_len += 1;
            }
        }
        try tree.reserve(allocator, @intCast(initial_len));
        var leaves_copy = initial;
        tree.build(leaves_copy[0..initial_len], &lanes);
        try testing.expect(tree.root.eql(naiveRoot(depth, initial[0..initial_len])));

        // A random batch: transactions with zero, one or two leaf updates.
        const txs = 1 + random.uintLessThan(u32, 24);
        var count: usize = 0;
        var expected_roots: [32]Update = undefined;
        var expected_len: usize = 0;
        for (0..txs) |tx| {
            const k = random.uintLessThan(u32, 3);
            if (k == 0) continue;
            const a = random.uintLessThan(u32, width);
            var b = random.uintLessThan(u32, width);
            if (b == a) b = (a + 1 + random.uintLessThan(u32, width - 1)) % width;
            const positions = [2]u32{ a, b };
            for (positions[0..k]) |pos| {
                const value = Fr.fromU64(random.int(u64) | 1);
                scratch.a[count] = .{ .tx = @intCast(tx), .pos = pos, .value = value };
                count += 1;
                dense[pos] = value;
            }
            var nodes: [width]Node = undefined;
            var n: usize = 0;
            for (dense, 0..) |value, pos| {
                if (!value.isZero()) {
                    nodes[n] = .{ .pos = @intCast(pos), .value = value };
                    n += 1;
                }
            }
            expected_roots[expected_len] = .{ .tx = @intCast(tx), .pos = 0, .value = naiveRoot(depth, nodes[0..n]) };
            expected_len += 1;
        }
        try tree.reserve(allocator, @intCast(count));
        const roots = tree.applyUpdates(&scratch, &lanes, count);
        try testing.expectEqual(expected_len, roots.len);
        for (roots, expected_roots[0..expected_len]) |got, want| {
            try testing.expectEqual(want.tx, got.tx);
            try testing.expect(got.value.eql(want.value));
        }
        if (expected_len > 0) try testing.expect(tree.root.eql(expected_roots[expected_len - 1].value));
        // The committed cache serves witnesses of the final tree, present and absent leaves.
        for (0..width) |pos| {
            var siblings: [depth]Fr = undefined;
            tree.witness(@intCast(pos), &siblings);
            try testing.expect(tree.leaf(@intCast(pos)).eql(dense[pos]));
            try testing.expect(verifyWitness(dense[pos], @intCast(pos), &siblings, tree.root));
        }
        _ = round;
    }
}

test "list root with zero padding" {
    const allocator = testing.allocator;
    var lanes = try Lanes.init(allocator, 16);
    defer lanes.deinit(allocator);
    var work: [16]Fr = undefined;
    var slots: [16]u32 = undefined;
    const z = emptySubtrees();
    const values = [_]Fr{ Fr.fromU64(1), Fr.zero, Fr.zero, Fr.fromU64(4), Fr.zero };
    var nodes: [5]Node = undefined;
    var n: usize = 0;
    for (values, 0..) |v, pos| {
        if (!v.isZero()) {
            nodes[n] = .{ .pos = @intCast(pos), .value = v };
            n += 1;
        }
    }
    try testing.expect(listRoot(&values, 4, &z, &work, &lanes, &slots).eql(naiveRoot(4, nodes[0..n])));
    try testing.expect(listRoot(&.{}, 4, &z, &work, &lanes, &slots).eql(z[4]));
    const zeros = [_]Fr{Fr.zero} ** 3;
    try testing.expect(listRoot(&zeros, 4, &z, &work, &lanes, &slots).eql(z[4]));
}

test "bottom-up build in chunks smaller than a level" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    var lanes = try Lanes.init(allocator, 3);
    defer lanes.deinit(allocator);
    for (0..8) |_| {
        var leaves: [128]Node = undefined;
        var n: usize = 0;
        for (0..128) |pos| {
            if (random.boolean()) {
                leaves[n] = .{ .pos = @intCast(pos), .value = Fr.fromU64(random.int(u64)) };
                n += 1;
            }
        }
        var tree = try Tree.init(allocator, 7, @intCast(n));
        defer tree.deinit(allocator);
        var work = leaves;
        tree.build(work[0..n], &lanes);
        try testing.expect(tree.root.eql(naiveRoot(7, leaves[0..n])));
        for (leaves[0..n]) |leaf_node| try testing.expect(tree.leaf(leaf_node.pos).eql(leaf_node.value));
    }
}
