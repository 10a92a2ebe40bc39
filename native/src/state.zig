//! The L2 state: accounts (docs/protocol.md §4.1) and the tree over their leaves (§4.2, §4.3).
//!
//! Accounts live in one array in creation order; `slots` maps an account index to its place in
//! the array. Accounts are never removed, so both only grow, and only between batches.
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const Fr = @import("fr.zig").Fr;
const poseidon2 = @import("poseidon2.zig");
const smt = @import("smt.zig");

pub const Account = struct {
    index: u32,
    pk_x: Fr,
    pk_y: Fr,
    /// H(pk.x, pk.y): the MD hasher's state after the key, which never changes, so a leaf
    /// update costs one Compress instead of three.
    pk_hash: Fr,
    balance: u64,
    nonce: u64,

    pub fn hashKey(pk_x: Fr, pk_y: Fr) Fr {
        return poseidon2.compress(poseidon2.compress(Fr.zero, pk_x), pk_y);
    }

    /// `balance + 2^64 · nonce`, the leaf's third element (docs §4.2).
    pub fn balanceAndNonce(balance: u64, nonce: u64) Fr {
        return Fr.fromCanonicalLimbs(.{ balance, nonce, 0, 0 }).?;
    }

    /// leaf = H(pk.x, pk.y, balance + 2^64 · nonce) = Compress(pk_hash, packed).
    pub fn leaf(account: *const Account) Fr {
        return poseidon2.compress(account.pk_hash, balanceAndNonce(account.balance, account.nonce));
    }
};

pub const State = struct {
    tree: smt.Tree,
    accounts: std.ArrayListUnmanaged(Account),
    slots: std.AutoHashMapUnmanaged(u32, u32),

    pub fn init(allocator: Allocator, tree_depth: u32, capacity_hint: u32) Allocator.Error!State {
        var state: State = .{
            .tree = try smt.Tree.init(allocator, tree_depth, 0),
            .accounts = .empty,
            .slots = .empty,
        };
        errdefer state.deinit(allocator);
        try state.reserve(allocator, capacity_hint);
        return state;
    }

    pub fn deinit(state: *State, allocator: Allocator) void {
        state.tree.deinit(allocator);
        state.accounts.deinit(allocator);
        state.slots.deinit(allocator);
        state.* = undefined;
    }

    pub fn depth(state: *const State) u32 {
        return state.tree.depth;
    }

    pub fn root(state: *const State) Fr {
        return state.tree.root;
    }

    pub fn accountCount(state: *const State) u64 {
        return state.accounts.items.len;
    }

    /// Makes room for `new_accounts` accounts (and their tree paths) so that creating them cannot
    /// allocate. The contents are unchanged whether or not it succeeds.
    pub fn reserve(state: *State, allocator: Allocator, new_accounts: u32) Allocator.Error!void {
        const width = @as(u64, 1) << @intCast(state.depth());
        const new: u32 = @intCast(@min(new_accounts, width - state.accounts.items.len));
        try state.accounts.ensureUnusedCapacity(allocator, new);
        try state.slots.ensureUnusedCapacity(allocator, new);
        try state.tree.reserve(allocator, new);
    }

    /// Whether `index` is a position of the tree, `index < 2^depth`; a u32 shift by 32 would
    /// overflow, hence the shift by depth - 1.
    pub fn inTree(state: *const State, index: u32) bool {
        return index >> @intCast(state.depth() - 1) <= 1;
    }

    pub fn get(state: *const State, index: u32) ?*const Account {
        const slot = state.slots.get(index) orelse return null;
        return &state.accounts.items[slot];
    }

    /// The array slot of `index`, for callers that update accounts in place.
    pub fn slotOf(state: *const State, index: u32) ?u32 {
        return state.slots.get(index);
    }

    /// Adds a new account; room was reserved. Its leaf is written by the caller's tree update.
    pub fn insertAssumeCapacity(state: *State, account: Account) void {
        assert(state.inTree(account.index));
        const slot: u32 = @intCast(state.accounts.items.len);
        const entry = state.slots.getOrPutAssumeCapacity(account.index);
        assert(!entry.found_existing);
        entry.value_ptr.* = slot;
        state.accounts.appendAssumeCapacity(account);
    }
};

const testing = std.testing;

test "leaf is the MD hash of key, balance and nonce" {
    const pk_x = Fr.fromU64(11);
    const pk_y = Fr.fromU64(22);
    const account: Account = .{
        .index = 0,
        .pk_x = pk_x,
        .pk_y = pk_y,
        .pk_hash = Account.hashKey(pk_x, pk_y),
        .balance = 7,
        .nonce = 1,
    };
    // balance + 2^64 · nonce
    const packed_value = Fr.fromU64(7).add(Fr.fromU64(1).mul(Fr.fromU64(1 << 32).square()));
    try testing.expect(account.leaf().eql(poseidon2.hashMD(&.{ pk_x, pk_y, packed_value })));
}

test "reserve clamps to the tree's capacity" {
    var state = try State.init(testing.allocator, 2, 1000);
    defer state.deinit(testing.allocator);
    try testing.expect(state.accounts.capacity >= 4);
    try testing.expect(state.root().eql(state.tree.empty[2]));
    try testing.expectEqual(@as(?*const Account, null), state.get(3));
}
