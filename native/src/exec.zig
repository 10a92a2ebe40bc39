//! Batch execution (docs/protocol.md §5, §7, §8): decoding, structural validation, the
//! per-transaction rules, and the trace, withdrawal and state roots of a batch.
//!
//! A batch runs in phases so that hashing is batched and nothing is half-applied:
//!   0. structural validation of every record, then memory reserved for every account the batch
//!      can create (the only steps that can fail; the state is untouched until both pass);
//!   1. the rules, sequentially, on copies of the touched accounts (cheap integer work), recording
//!      each successful transaction's leaf writes and withdrawals;
//!   2. leaf hashes (and key hashes of new accounts, withdrawal leaves), batched;
//!   3. the tree, rehashed level by level across all transactions (`smt.Tree.applyUpdates`),
//!      which yields the root after every transaction and commits the nodes;
//!   4. the account copies committed.
//! Phases 1–4 run over a range of records (`Batch.run`): the whole batch in `apply`, one record
//! at a time when witness.zig reads the state between transactions. The trace and withdrawal
//! roots are then hashed once over the whole batch (`Batch.result`).
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const Fr = @import("fr.zig").Fr;
const smt = @import("smt.zig");
const state_mod = @import("state.zig");
const State = state_mod.State;
const Account = state_mod.Account;

/// Five field elements, fixed so every record is bounded before decoding (docs §5.2).
pub const tx_size = 160;
/// Bounds the trace and withdrawal trees (depth 12) and the work of one cgo call (docs §3).
pub const max_batch_txs = 4096;
/// 2^12 = max_batch_txs positions in the trace and withdrawal trees (docs §8.1).
pub const list_depth = 12;
/// A transaction writes at most two accounts (sender and recipient).
pub const max_leaf_writes = 2 * max_batch_txs;

comptime {
    assert(@as(u64, 1) << list_depth == max_batch_txs);
}

/// Types 5 and 6 are a transfer and a withdraw from an ML-DSA-65 account (docs §4.2, §5.1): w2
/// is the digest of a signature the core never sees, and they execute as types 2 and 3.
pub const TxType = enum(u8) { noop = 0, deposit = 1, transfer = 2, withdraw = 3, refund = 4, transfer_mldsa = 5, withdraw_mldsa = 6 };

/// Whether a type is signed with ML-DSA-65 (its sender's leaf must have pk.x = 0, docs §7).
pub fn isMldsa(t: u8) bool {
    return t == @intFromEnum(TxType.transfer_mldsa) or t == @intFromEnum(TxType.withdraw_mldsa);
}

/// Per-transaction status (docs §7.1).
pub const TxStatus = enum(u8) {
    ok = 0,
    index_out_of_range = 1,
    sender_not_found = 2,
    recipient_not_found = 3,
    bad_nonce = 4,
    nonce_exhausted = 5,
    insufficient_balance = 6,
    balance_overflow = 7,
    pubkey_mismatch = 8,
    /// Never produced here: the core does not check signatures (docs §6).
    bad_signature = 9,
    /// A refund of a deposit that some index could take (docs §7.6).
    deposit_placeable = 10,
    /// A type 2/3 from an ML-DSA account (pk.x = 0) or a type 5/6 from an EdDSA one (docs §7).
    key_kind_mismatch = 11,
};

/// Call-level errors: the batch is rejected as a whole and the state is unchanged.
pub const BatchError = error{ Malformed, UnknownType, NonCanonical, BatchTooLarge, OutOfMemory };

/// The integer fields of w0 (docs §5.2).
pub const Header = struct {
    type: u8,
    from: u32,
    to: u32,
    amount: u64,
    nonce: u64,

    pub fn decode(w0: *const [32]u8) Header {
        return .{
            .type = w0[7],
            .from = std.mem.readInt(u32, w0[8..12], .big),
            .to = std.mem.readInt(u32, w0[12..16], .big),
            .amount = std.mem.readInt(u64, w0[16..24], .big),
            .nonce = std.mem.readInt(u64, w0[24..32], .big),
        };
    }
};

pub fn word(rec: *const [tx_size]u8, i: usize) *const [32]u8 {
    return rec[32 * i ..][0..32];
}

pub fn record(txs: []const u8, k: usize) *const [tx_size]u8 {
    return txs[k * tx_size ..][0..tx_size];
}

fn allZero(bytes: []const u8) bool {
    for (bytes) |b| if (b != 0) return false;
    return true;
}

/// The word as a field element; the word was checked canonical by `validate`.
fn element(bytes: *const [32]u8) Fr {
    return Fr.fromCanonicalBytes(bytes).?;
}

pub const Validated = struct {
    count: u32,
    deposits: u32,
};

/// Structural validity of the whole batch (docs §5.3). Records are checked in order, each with
/// the checks in the order of the spec's table, and the first failure rejects the batch: the
/// reading the Go reference (`l2.DecodeBatch`) takes, so both report the same error.
pub fn validate(txs: []const u8) BatchError!Validated {
    if (txs.len % tx_size != 0) return error.Malformed;
    if (txs.len / tx_size > max_batch_txs) return error.BatchTooLarge;
    // docs §8: 1 <= n; an empty batch has no valid length.
    if (txs.len == 0) return error.Malformed;
    const count: u32 = @intCast(txs.len / tx_size);
    var deposits: u32 = 0;
    for (0..count) |k| {
        const r = record(txs, k);
        try validateRecord(r);
        if (r[7] == @intFromEnum(TxType.deposit)) deposits += 1;
    }
    return .{ .count = count, .deposits = deposits };
}

fn validateRecord(r: *const [tx_size]u8) BatchError!void {
    for (0..5) |i| {
        if (Fr.fromCanonicalBytes(word(r, i)) == null) return error.NonCanonical;
    }
    if (r[7] > @intFromEnum(TxType.withdraw_mldsa)) return error.UnknownType;
    const w0 = word(r, 0);
    if (!allZero(w0[0..7])) return error.Malformed;
    const h = Header.decode(w0);
    const valid = switch (@as(TxType, @enumFromInt(h.type))) {
        .noop => allZero(r),
        .deposit => h.to == 0 and h.nonce == 0 and allZero(word(r, 1)) and allZero(word(r, 4)),
        .transfer => allZero(word(r, 1)),
        // The L1 address is a 160-bit integer.
        .withdraw => h.to == 0 and allZero(word(r, 1)[0..12]),
        // The depositor's L1 address, the deposit's key, no signature.
        .refund => h.from == 0 and h.to == 0 and h.nonce == 0 and allZero(word(r, 1)[0..12]) and allZero(word(r, 4)),
        // As transfer and withdraw; w2 is the signature digest, w3 and w4 are zero.
        .transfer_mldsa => allZero(word(r, 1)) and allZero(word(r, 3)) and allZero(word(r, 4)),
        .withdraw_mldsa => h.to == 0 and allZero(word(r, 1)[0..12]) and allZero(word(r, 3)) and allZero(word(r, 4)),
    };
    if (!valid) return error.Malformed;
}

/// An account as the batch sees it: a copy, committed only when the whole batch has run.
const Touched = struct {
    account: Account,
    exists: bool,
    /// Created by a deposit of this batch: its key hash is computed in phase 2.
    created: bool,
    /// Its place in `State.accounts` if it existed before the batch.
    slot: ?u32,
};

/// An account's leaf value as of after transaction `tx`.
const LeafWrite = struct {
    tx: u32,
    touched: u32,
    balance: u64,
    nonce: u64,
};

const Withdrawal = struct {
    tx: u32,
    address: Fr,
    amount: u64,
};

pub const Result = struct {
    final_root: Fr,
    trace_root: Fr,
    withdrawal_root: Fr,
    applied: u32,
    rejected: u32,
};

/// Working memory of a batch, allocated once for `max_batch_txs`; the outputs of the last batch
/// stay readable in `statuses`, `trace` and `withdrawal_leaves`.
pub const Batch = struct {
    statuses: []TxStatus,
    trace: []Fr,
    withdrawal_leaves: []Fr,
    touched: []Touched,
    touched_len: u32,
    /// Account index -> entry of `touched`.
    touched_by_index: std.AutoHashMapUnmanaged(u32, u32),
    writes: []LeafWrite,
    writes_len: u32,
    withdrawals: []Withdrawal,
    withdrawals_len: u32,
    updates: smt.UpdateScratch,
    lanes: smt.Lanes,
    list_work: []Fr,
    list_slots: []u32,

    pub fn init(allocator: Allocator) Allocator.Error!Batch {
        var batch: Batch = undefined;
        batch.statuses = try allocator.alloc(TxStatus, max_batch_txs);
        errdefer allocator.free(batch.statuses);
        batch.trace = try allocator.alloc(Fr, max_batch_txs);
        errdefer allocator.free(batch.trace);
        batch.withdrawal_leaves = try allocator.alloc(Fr, max_batch_txs);
        errdefer allocator.free(batch.withdrawal_leaves);
        batch.touched = try allocator.alloc(Touched, max_leaf_writes);
        errdefer allocator.free(batch.touched);
        batch.touched_by_index = .empty;
        try batch.touched_by_index.ensureTotalCapacity(allocator, max_leaf_writes);
        errdefer batch.touched_by_index.deinit(allocator);
        batch.writes = try allocator.alloc(LeafWrite, max_leaf_writes);
        errdefer allocator.free(batch.writes);
        batch.withdrawals = try allocator.alloc(Withdrawal, max_batch_txs);
        errdefer allocator.free(batch.withdrawals);
        batch.updates = try smt.UpdateScratch.init(allocator, max_leaf_writes);
        errdefer batch.updates.deinit(allocator);
        batch.lanes = try smt.Lanes.init(allocator, max_leaf_writes);
        errdefer batch.lanes.deinit(allocator);
        batch.list_work = try allocator.alloc(Fr, max_batch_txs);
        errdefer allocator.free(batch.list_work);
        batch.list_slots = try allocator.alloc(u32, max_batch_txs);
        batch.touched_len = 0;
        batch.writes_len = 0;
        batch.withdrawals_len = 0;
        return batch;
    }

    pub fn deinit(batch: *Batch, allocator: Allocator) void {
        allocator.free(batch.statuses);
        allocator.free(batch.trace);
        allocator.free(batch.withdrawal_leaves);
        allocator.free(batch.touched);
        batch.touched_by_index.deinit(allocator);
        allocator.free(batch.writes);
        allocator.free(batch.withdrawals);
        batch.updates.deinit(allocator);
        batch.lanes.deinit(allocator);
        allocator.free(batch.list_work);
        allocator.free(batch.list_slots);
        batch.* = undefined;
    }

    /// Applies a batch. On error the state is unchanged. On success `statuses`, `trace` and
    /// `withdrawal_leaves` hold `count` entries each.
    pub fn apply(batch: *Batch, allocator: Allocator, state: *State, txs: []const u8) BatchError!Result {
        const count = try prepare(allocator, state, txs);
        // Nothing below can fail.
        batch.run(state, txs, 0, count);
        return batch.result(state, count);
    }

    /// Phase 0 for the whole batch: structural validation, then room reserved for every account
    /// the batch can create. Returns the record count. On error the state is unchanged.
    pub fn prepare(allocator: Allocator, state: *State, txs: []const u8) BatchError!u32 {
        const validated = try validate(txs);
        try state.reserve(allocator, validated.deposits);
        return validated.count;
    }

    /// Phases 1–4 for records `[first, end)` of a batch that `prepare` accepted, every record
    /// before `first` having run: applies them to the state and fills `statuses`, `trace` and
    /// `withdrawal_leaves` at their batch positions. Cannot fail.
    pub fn run(batch: *Batch, state: *State, txs: []const u8, first: usize, end: usize) void {
        assert(first < end and end <= txs.len / tx_size);
        const prev_root = state.root();

        batch.execute(state, txs, first, end);
        batch.hashCreatedKeys();
        batch.hashLeaves();
        const roots = state.tree.applyUpdates(&batch.updates, &batch.lanes, batch.writes_len);

        var root = prev_root;
        var next: usize = 0;
        for (batch.trace[first..end], first..) |*entry, k| {
            if (next < roots.len and roots[next].tx == k) {
                root = roots[next].value;
                next += 1;
            }
            entry.* = root;
        }
        assert(next == roots.len);
        assert(root.eql(state.root()));

        batch.hashWithdrawals(first, end);
        batch.commitAccounts(state);
    }

    /// The result of a batch of `count` records that have all run: the trace and withdrawal
    /// roots (docs §8.2, §8.3) and the counts.
    pub fn result(batch: *Batch, state: *const State, count: u32) Result {
        var applied: u32 = 0;
        for (batch.statuses[0..count]) |status| applied += @intFromBool(status == .ok);
        const empty = &state.tree.empty;
        return .{
            .final_root = batch.trace[count - 1],
            .trace_root = smt.listRoot(batch.trace[0..count], list_depth, empty, batch.list_work, &batch.lanes, batch.list_slots),
            .withdrawal_root = smt.listRoot(batch.withdrawal_leaves[0..count], list_depth, empty, batch.list_work, &batch.lanes, batch.list_slots),
            .applied = applied,
            .rejected = count - applied,
        };
    }

    /// Phase 1: the rules of docs §7 on copies of the accounts.
    fn execute(batch: *Batch, state: *const State, txs: []const u8, first: usize, end: usize) void {
        batch.touched_len = 0;
        batch.writes_len = 0;
        batch.withdrawals_len = 0;
        batch.touched_by_index.clearRetainingCapacity();
        for (first..end) |k| {
            const tx: u32 = @intCast(k);
            const r = record(txs, k);
            const h = Header.decode(word(r, 0));
            batch.statuses[k] = switch (@as(TxType, @enumFromInt(h.type))) {
                .noop => .ok,
                .deposit => batch.deposit(state, tx, h, element(word(r, 2)), element(word(r, 3))),
                .transfer, .transfer_mldsa => batch.transfer(state, tx, h),
                .withdraw, .withdraw_mldsa => batch.withdraw(state, tx, h, element(word(r, 1))),
                .refund => batch.refund(state, tx, h, element(word(r, 1)), element(word(r, 2)), element(word(r, 3))),
            };
        }
    }

    /// The batch's copy of account `index`, made on first use.
    fn touch(batch: *Batch, state: *const State, index: u32) *Touched {
        const entry = batch.touched_by_index.getOrPutAssumeCapacity(index);
        if (!entry.found_existing) {
            assert(batch.touched_len < batch.touched.len);
            entry.value_ptr.* = batch.touched_len;
            const slot = state.slotOf(index);
            batch.touched[batch.touched_len] = if (slot) |s| .{
                .account = state.accounts.items[s],
                .exists = true,
                .created = false,
                .slot = s,
            } else .{
                .account = .{
                    .index = index,
                    .pk_x = Fr.zero,
                    .pk_y = Fr.zero,
                    .pk_hash = Fr.zero,
                    .balance = 0,
                    .nonce = 0,
                },
                .exists = false,
                .created = false,
                .slot = null,
            };
            batch.touched_len += 1;
        }
        return &batch.touched[entry.value_ptr.*];
    }

    fn recordWrite(batch: *Batch, tx: u32, touched: *const Touched) void {
        assert(batch.writes_len < batch.writes.len);
        batch.writes[batch.writes_len] = .{
            .tx = tx,
            .touched = @intCast(touched - batch.touched.ptr),
            .balance = touched.account.balance,
            .nonce = touched.account.nonce,
        };
        batch.writes_len += 1;
    }

    fn deposit(batch: *Batch, state: *const State, tx: u32, h: Header, pk_x: Fr, pk_y: Fr) TxStatus {
        if (!state.inTree(h.from)) return .index_out_of_range;
        const target = batch.touch(state, h.from);
        if (!target.exists) {
            target.account.pk_x = pk_x;
            target.account.pk_y = pk_y;
            target.account.balance = h.amount;
            target.exists = true;
            target.created = true;
        } else {
            if (!target.account.pk_x.eql(pk_x) or !target.account.pk_y.eql(pk_y)) return .pubkey_mismatch;
            const sum = @addWithOverflow(target.account.balance, h.amount);
            if (sum[1] != 0) return .balance_overflow;
            target.account.balance = sum[0];
        }
        batch.recordWrite(tx, target);
        return .ok;
    }

    /// Steps shared by transfer and withdraw of both kinds up to the recipient (docs §7.3 2–6,
    /// §7.4 2–6; the signature, step 4, is checked outside the core): the sender's key kind
    /// (pk.x = 0 for ML-DSA) must be the type's.
    fn checkSender(sender: *const Touched, h: Header) ?TxStatus {
        if (!sender.exists) return .sender_not_found;
        if (sender.account.pk_x.isZero() != isMldsa(h.type)) return .key_kind_mismatch;
        if (h.nonce != sender.account.nonce) return .bad_nonce;
        if (sender.account.nonce == std.math.maxInt(u64)) return .nonce_exhausted;
        return null;
    }

    fn transfer(batch: *Batch, state: *const State, tx: u32, h: Header) TxStatus {
        if (!state.inTree(h.from) or !state.inTree(h.to)) return .index_out_of_range;
        const sender = batch.touch(state, h.from);
        if (checkSender(sender, h)) |status| return status;
        const recipient = batch.touch(state, h.to);
        if (!recipient.exists) return .recipient_not_found;
        if (h.amount > sender.account.balance) return .insufficient_balance;
        if (h.to != h.from and @addWithOverflow(recipient.account.balance, h.amount)[1] != 0) {
            return .balance_overflow;
        }
        sender.account.balance -= h.amount;
        sender.account.nonce += 1;
        // Read after the sender's update: to oneself, only the nonce moves.
        recipient.account.balance += h.amount;
        batch.recordWrite(tx, sender);
        if (h.to != h.from) batch.recordWrite(tx, recipient);
        return .ok;
    }

    fn withdraw(batch: *Batch, state: *const State, tx: u32, h: Header, address: Fr) TxStatus {
        if (!state.inTree(h.from)) return .index_out_of_range;
        const sender = batch.touch(state, h.from);
        if (checkSender(sender, h)) |status| return status;
        if (h.amount > sender.account.balance) return .insufficient_balance;
        sender.account.balance -= h.amount;
        sender.account.nonce += 1;
        batch.recordWrite(tx, sender);
        batch.withdrawals[batch.withdrawals_len] = .{ .tx = tx, .address = address, .amount = h.amount };
        batch.withdrawals_len += 1;
        return .ok;
    }

    /// docs §7.6: valid only if no index can take the deposit; the tree is unchanged and the
    /// deposit's amount is withdrawn to its L1 depositor.
    fn refund(batch: *Batch, state: *const State, tx: u32, h: Header, address: Fr, pk_x: Fr, pk_y: Fr) TxStatus {
        if (batch.placeable(state, pk_x, pk_y, h.amount)) return .deposit_placeable;
        batch.withdrawals[batch.withdrawals_len] = .{ .tx = tx, .address = address, .amount = h.amount };
        batch.withdrawals_len += 1;
        return .ok;
    }

    /// Whether a deposit of `amount` for the key could be placed (docs §7.2) in the state as this
    /// batch has left it: a free index, or an account with the key and room for the amount. Only
    /// a full tree reaches the scan over every account.
    fn placeable(batch: *const Batch, state: *const State, pk_x: Fr, pk_y: Fr, amount: u64) bool {
        const touched = batch.touched[0..batch.touched_len];
        var created: u64 = 0;
        for (touched) |t| created += @intFromBool(t.created);
        const width = @as(u64, 1) << @intCast(state.depth());
        if (state.accountCount() + created < width) return true;
        const fits = struct {
            fn fits(a: *const Account, x: Fr, y: Fr, credit: u64) bool {
                return a.pk_x.eql(x) and a.pk_y.eql(y) and @addWithOverflow(a.balance, credit)[1] == 0;
            }
        }.fits;
        for (state.accounts.items) |*a| {
            const current = if (batch.touched_by_index.get(a.index)) |t| &batch.touched[t].account else a;
            if (fits(current, pk_x, pk_y, amount)) return true;
        }
        for (touched) |*t| {
            if (t.created and fits(&t.account, pk_x, pk_y, amount)) return true;
        }
        return false;
    }

    /// Phase 2a: H(pk.x, pk.y) of accounts created by this batch, two batched compresses.
    fn hashCreatedKeys(batch: *Batch) void {
        const lanes = &batch.lanes;
        const touched = batch.touched[0..batch.touched_len];
        lanes.reset();
        for (touched) |t| {
            if (t.created) _ = lanes.push(Fr.zero, t.account.pk_x);
        }
        lanes.run();
        var i: usize = 0;
        for (touched) |t| {
            if (t.created) {
                lanes.left[i] = lanes.out[i];
                lanes.right[i] = t.account.pk_y;
                i += 1;
            }
        }
        lanes.run();
        i = 0;
        for (touched) |*t| {
            if (t.created) {
                t.account.pk_hash = lanes.out[i];
                i += 1;
            }
        }
    }

    /// Phase 2b: every leaf write's hash, one batched compress, in the tree's update format.
    fn hashLeaves(batch: *Batch) void {
        const lanes = &batch.lanes;
        const writes = batch.writes[0..batch.writes_len];
        lanes.reset();
        for (writes) |w| {
            _ = lanes.push(batch.touched[w.touched].account.pk_hash, Account.balanceAndNonce(w.balance, w.nonce));
        }
        lanes.run();
        for (writes, batch.updates.a[0..writes.len], lanes.out[0..writes.len]) |w, *update, leaf| {
            update.* = .{ .tx = w.tx, .pos = batch.touched[w.touched].account.index, .value = leaf };
        }
    }

    /// wleaf[k] = H(address, amount) for successful withdrawals, 0 elsewhere (docs §8.3).
    fn hashWithdrawals(batch: *Batch, first: usize, end: usize) void {
        const lanes = &batch.lanes;
        const withdrawals = batch.withdrawals[0..batch.withdrawals_len];
        @memset(batch.withdrawal_leaves[first..end], Fr.zero);
        lanes.reset();
        for (withdrawals) |w| _ = lanes.push(Fr.zero, w.address);
        lanes.run();
        for (withdrawals, 0..) |w, i| {
            lanes.left[i] = lanes.out[i];
            lanes.right[i] = Fr.fromU64(w.amount);
        }
        lanes.run();
        for (withdrawals, lanes.out[0..withdrawals.len]) |w, leaf| batch.withdrawal_leaves[w.tx] = leaf;
    }

    /// Phase 4: the batch's account copies become the state. Room was reserved in phase 0.
    fn commitAccounts(batch: *Batch, state: *State) void {
        for (batch.touched[0..batch.touched_len]) |t| {
            if (t.created) {
                state.insertAssumeCapacity(t.account);
            } else if (t.slot) |slot| {
                state.accounts.items[slot] = t.account;
            }
        }
    }
};

const testing = std.testing;
const poseidon2 = @import("poseidon2.zig");

/// A transaction for tests, encoded by `encode`; also used by the tests of witness.zig.
pub const TestTx = struct {
    type: TxType = .noop,
    from: u32 = 0,
    to: u32 = 0,
    amount: u64 = 0,
    nonce: u64 = 0,
    w1: u64 = 0,
    w2: u64 = 0,
    w3: u64 = 0,
    w4: u64 = 0,

    pub fn encode(t: TestTx) [tx_size]u8 {
        var r: [tx_size]u8 = @splat(0);
        r[7] = @intFromEnum(t.type);
        std.mem.writeInt(u32, r[8..12], t.from, .big);
        std.mem.writeInt(u32, r[12..16], t.to, .big);
        std.mem.writeInt(u64, r[16..24], t.amount, .big);
        std.mem.writeInt(u64, r[24..32], t.nonce, .big);
        for ([_]u64{ t.w1, t.w2, t.w3, t.w4 }, 1..) |w, i| std.mem.writeInt(u64, r[32 * i + 24 ..][0..8], w, .big);
        return r;
    }

    pub fn deposit(index: u32, key: u64, amount: u64) TestTx {
        return .{ .type = .deposit, .from = index, .amount = amount, .w2 = key, .w3 = key + 1 };
    }

    pub fn transfer(from: u32, to: u32, amount: u64, nonce: u64) TestTx {
        return .{ .type = .transfer, .from = from, .to = to, .amount = amount, .nonce = nonce, .w2 = 5, .w3 = 6, .w4 = 7 };
    }

    pub fn withdraw(from: u32, address: u64, amount: u64, nonce: u64) TestTx {
        return .{ .type = .withdraw, .from = from, .amount = amount, .nonce = nonce, .w1 = address, .w2 = 5 };
    }

    /// A deposit creating an ML-DSA account: key (0, kh).
    pub fn depositMldsa(index: u32, kh: u64, amount: u64) TestTx {
        return .{ .type = .deposit, .from = index, .amount = amount, .w3 = kh };
    }

    pub fn transferMldsa(from: u32, to: u32, amount: u64, nonce: u64) TestTx {
        return .{ .type = .transfer_mldsa, .from = from, .to = to, .amount = amount, .nonce = nonce, .w2 = 9 };
    }

    pub fn withdrawMldsa(from: u32, address: u64, amount: u64, nonce: u64) TestTx {
        return .{ .type = .withdraw_mldsa, .from = from, .amount = amount, .nonce = nonce, .w1 = address, .w2 = 9 };
    }
};

/// A state and its batch scratch for tests; also used by the tests of witness.zig.
pub const TestCore = struct {
    state: State,
    batch: Batch,
    bytes: [max_batch_txs * tx_size]u8 = undefined,

    pub fn init(depth: u32) !*TestCore {
        const core = try testing.allocator.create(TestCore);
        errdefer testing.allocator.destroy(core);
        core.state = try State.init(testing.allocator, depth, 8);
        errdefer core.state.deinit(testing.allocator);
        core.batch = try Batch.init(testing.allocator);
        return core;
    }

    pub fn deinit(core: *TestCore) void {
        core.batch.deinit(testing.allocator);
        core.state.deinit(testing.allocator);
        testing.allocator.destroy(core);
    }

    pub fn encode(core: *TestCore, txs: []const TestTx) []const u8 {
        for (txs, 0..) |t, k| core.bytes[k * tx_size ..][0..tx_size].* = t.encode();
        return core.bytes[0 .. txs.len * tx_size];
    }

    pub fn apply(core: *TestCore, txs: []const TestTx) !Result {
        return core.batch.apply(testing.allocator, &core.state, core.encode(txs));
    }

    fn expectStatuses(core: *TestCore, txs: []const TestTx, want: []const TxStatus) !void {
        _ = try core.apply(txs);
        try testing.expectEqualSlices(TxStatus, want, core.batch.statuses[0..txs.len]);
    }

    fn account(core: *TestCore, index: u32) Account {
        return core.state.get(index).?.*;
    }

    /// Root recomputed from the accounts alone, independent of the node cache.
    fn expectConsistent(core: *TestCore) !void {
        var leaves: [64]smt.Node = undefined;
        var n: usize = 0;
        var tree = try smt.Tree.init(testing.allocator, core.state.depth(), @intCast(core.state.accounts.items.len));
        defer tree.deinit(testing.allocator);
        for (0..@as(usize, 1) << @intCast(core.state.depth())) |i| {
            if (core.state.get(@intCast(i))) |a| {
                leaves[n] = .{ .pos = @intCast(i), .value = a.leaf() };
                n += 1;
            }
        }
        tree.build(leaves[0..n], &core.batch.lanes);
        try testing.expect(tree.root.eql(core.state.root()));
    }
};

test "empty state root is Z[depth]" {
    const core = try TestCore.init(5);
    defer core.deinit();
    try testing.expect(core.state.root().eql(smt.emptySubtrees()[5]));
}

test "deposit creates, credits, rejects a different key and an overflow" {
    const core = try TestCore.init(4);
    defer core.deinit();
    const max = std.math.maxInt(u64);
    try core.expectStatuses(&.{
        TestTx.deposit(3, 100, 10),
        TestTx.deposit(3, 100, 5),
        TestTx.deposit(3, 200, 1),
        TestTx.deposit(3, 100, max - 14),
        TestTx.deposit(3, 100, max - 15),
        TestTx.deposit(16, 100, 1),
        TestTx.deposit(15, 300, 0),
    }, &.{ .ok, .ok, .pubkey_mismatch, .balance_overflow, .ok, .index_out_of_range, .ok });
    const a = core.account(3);
    try testing.expectEqual(max, a.balance);
    try testing.expectEqual(@as(u64, 0), a.nonce);
    try testing.expect(a.pk_x.eql(Fr.fromU64(100)) and a.pk_y.eql(Fr.fromU64(101)));
    try testing.expectEqual(@as(u64, 0), core.account(15).balance);
    try testing.expectEqual(@as(u64, 2), core.state.accountCount());
    try core.expectConsistent();
}

test "transfer statuses in the order of the rules" {
    const core = try TestCore.init(4);
    defer core.deinit();
    const max = std.math.maxInt(u64);
    _ = try core.apply(&.{ TestTx.deposit(1, 10, 100), TestTx.deposit(2, 20, max), TestTx.deposit(4, 40, 0) });
    try core.expectStatuses(&.{
        TestTx.transfer(16, 1, 1, 0),
        TestTx.transfer(1, 16, 1, 0),
        TestTx.transfer(3, 1, 1, 0),
        TestTx.transfer(1, 2, 1, 1),
        TestTx.transfer(1, 3, 1, 0),
        TestTx.transfer(1, 2, 101, 0),
        TestTx.transfer(1, 2, 1, 0),
        TestTx.transfer(1, 4, 100, 0),
        TestTx.transfer(4, 1, 0, 0),
    }, &.{ .index_out_of_range, .index_out_of_range, .sender_not_found, .bad_nonce, .recipient_not_found, .insufficient_balance, .balance_overflow, .ok, .ok });
    try testing.expectEqual(@as(u64, 0), core.account(1).balance);
    try testing.expectEqual(@as(u64, 1), core.account(1).nonce);
    try testing.expectEqual(@as(u64, 100), core.account(4).balance);
    try testing.expectEqual(@as(u64, 1), core.account(4).nonce);
    try core.expectConsistent();
}

test "transfer to oneself only moves the nonce, even at the balance limit" {
    const core = try TestCore.init(3);
    defer core.deinit();
    const max = std.math.maxInt(u64);
    _ = try core.apply(&.{TestTx.deposit(5, 1, max)});
    const result = try core.apply(&.{ TestTx.transfer(5, 5, max, 0), TestTx.transfer(5, 5, 1, 1) });
    try testing.expectEqual(@as(u32, 2), result.applied);
    try testing.expectEqual(max, core.account(5).balance);
    try testing.expectEqual(@as(u64, 2), core.account(5).nonce);
    try testing.expect(!core.batch.trace[0].eql(core.batch.trace[1]));
    try core.expectConsistent();
}

test "nonce exhausted" {
    const core = try TestCore.init(3);
    defer core.deinit();
    const max = std.math.maxInt(u64);
    _ = try core.apply(&.{ TestTx.deposit(0, 1, 50), TestTx.deposit(1, 2, 50) });
    // No transaction sequence reaches the last nonce; set it through the tree update path.
    const slot = core.state.slotOf(0).?;
    core.state.accounts.items[slot].nonce = max;
    core.batch.updates.a[0] = .{ .tx = 0, .pos = 0, .value = core.state.accounts.items[slot].leaf() };
    _ = core.state.tree.applyUpdates(&core.batch.updates, &core.batch.lanes, 1);
    const before = core.state.root();
    try core.expectStatuses(&.{
        TestTx.transfer(0, 1, 1, max - 1),
        TestTx.transfer(0, 1, 1, max),
        TestTx.withdraw(0, 9, 1, max),
        TestTx.transfer(1, 0, 1, 0),
    }, &.{ .bad_nonce, .nonce_exhausted, .nonce_exhausted, .ok });
    try testing.expect(core.batch.trace[2].eql(before));
    try core.expectConsistent();
}

test "withdraw statuses, leaves and root" {
    const core = try TestCore.init(3);
    defer core.deinit();
    _ = try core.apply(&.{TestTx.deposit(2, 1, 50)});
    const result = try core.apply(&.{
        TestTx.withdraw(8, 1, 1, 0),
        TestTx.withdraw(3, 1, 1, 0),
        TestTx.withdraw(2, 1, 1, 1),
        TestTx.withdraw(2, 1, 51, 0),
        TestTx.withdraw(2, 0xabcdef, 20, 0),
        .{},
    });
    try testing.expectEqualSlices(TxStatus, &.{ .index_out_of_range, .sender_not_found, .bad_nonce, .insufficient_balance, .ok, .ok }, core.batch.statuses[0..6]);
    try testing.expectEqual(@as(u64, 30), core.account(2).balance);
    const wleaf = poseidon2.hashMD(&.{ Fr.fromU64(0xabcdef), Fr.fromU64(20) });
    for (core.batch.withdrawal_leaves[0..6], 0..) |leaf, k| {
        try testing.expect(leaf.eql(if (k == 4) wleaf else Fr.zero));
    }
    var tree = try smt.Tree.init(testing.allocator, list_depth, 1);
    defer tree.deinit(testing.allocator);
    var leaves = [_]smt.Node{.{ .pos = 4, .value = wleaf }};
    tree.build(&leaves, &core.batch.lanes);
    try testing.expect(result.withdrawal_root.eql(tree.root));
    try testing.expect(result.final_root.eql(core.batch.trace[5]));
    try testing.expectEqual(@as(u32, 2), result.applied);
    try testing.expectEqual(@as(u32, 4), result.rejected);
}

test "ML-DSA types: key kind after sender_not_found, then as transfer and withdraw" {
    const core = try TestCore.init(4);
    defer core.deinit();
    _ = try core.apply(&.{ TestTx.deposit(1, 10, 100), TestTx.depositMldsa(2, 20, 100), TestTx.depositMldsa(3, 30, 5) });
    const result = try core.apply(&.{
        TestTx.transferMldsa(5, 1, 1, 0), // no sender
        TestTx.transferMldsa(1, 2, 1, 7), // EdDSA sender: the kind before the nonce
        TestTx.withdrawMldsa(1, 9, 1, 0),
        TestTx.transfer(2, 1, 1, 7), // ML-DSA sender of a type 2
        TestTx.withdraw(3, 9, 1, 0),
        TestTx.transferMldsa(2, 1, 10, 1), // bad nonce
        TestTx.transferMldsa(2, 1, 10, 0),
        TestTx.transferMldsa(2, 4, 10, 1), // no recipient
        TestTx.withdrawMldsa(3, 0xabcdef, 6, 0), // insufficient
        TestTx.withdrawMldsa(3, 0xabcdef, 5, 0),
        TestTx.transfer(1, 3, 3, 0), // an EdDSA sender may pay an ML-DSA account
    });
    try testing.expectEqualSlices(TxStatus, &.{
        .sender_not_found,     .key_kind_mismatch, .key_kind_mismatch, .key_kind_mismatch,
        .key_kind_mismatch,    .bad_nonce,         .ok,                .recipient_not_found,
        .insufficient_balance, .ok,                .ok,
    }, core.batch.statuses[0..11]);
    try testing.expectEqual(@as(u32, 3), result.applied);
    try testing.expectEqual(@as(u64, 107), core.account(1).balance);
    try testing.expectEqual(@as(u64, 90), core.account(2).balance);
    try testing.expectEqual(@as(u64, 1), core.account(2).nonce);
    try testing.expectEqual(@as(u64, 3), core.account(3).balance);
    try testing.expectEqual(@as(u64, 1), core.account(3).nonce);
    const wleaf = poseidon2.hashMD(&.{ Fr.fromU64(0xabcdef), Fr.fromU64(5) });
    try testing.expect(core.batch.withdrawal_leaves[9].eql(wleaf));
}

test "structural errors reject the batch and leave the state unchanged" {
    const core = try TestCore.init(4);
    defer core.deinit();
    _ = try core.apply(&.{ TestTx.deposit(1, 10, 100), TestTx.deposit(2, 20, 5) });
    const root = core.state.root();
    const ok = TestTx.transfer(1, 2, 1, 0);
    const Case = struct { txs: []const TestTx, err: BatchError };
    const cases = [_]Case{
        .{ .txs = &.{ ok, .{ .w1 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .deposit, .from = 1, .to = 1, .w2 = 10, .w3 = 11 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .deposit, .from = 1, .nonce = 1, .w2 = 10, .w3 = 11 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .deposit, .from = 1, .w1 = 1, .w2 = 10, .w3 = 11 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .deposit, .from = 1, .w2 = 10, .w3 = 11, .w4 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .transfer, .from = 1, .to = 2, .w1 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .withdraw, .from = 1, .to = 2 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .transfer_mldsa, .from = 1, .to = 2, .w2 = 1, .w3 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .transfer_mldsa, .from = 1, .to = 2, .w2 = 1, .w4 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .transfer_mldsa, .from = 1, .to = 2, .w1 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .withdraw_mldsa, .from = 1, .to = 2 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .type = .withdraw_mldsa, .from = 1, .w2 = 1, .w3 = 1 } }, .err = error.Malformed },
        .{ .txs = &.{ ok, .{ .from = 1 } }, .err = error.Malformed },
    };
    for (cases) |c| {
        try testing.expectError(c.err, core.apply(c.txs));
        try testing.expect(core.state.root().eql(root));
    }
    var bytes: [2 * tx_size]u8 = undefined;
    bytes[0..tx_size].* = ok.encode();
    bytes[tx_size..].* = ok.encode();
    const p_bytes = [_]u8{ 0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d, 0x28, 0x33, 0xe8, 0x48, 0x79, 0xb9, 0x70, 0x91, 0x43, 0xe1, 0xf5, 0x93, 0xf0, 0x00, 0x00, 0x01 };
    const Mutation = struct { offset: usize, bytes: []const u8, err: BatchError };
    const mutations = [_]Mutation{
        .{ .offset = tx_size + 7, .bytes = &.{7}, .err = error.UnknownType },
        .{ .offset = tx_size + 6, .bytes = &.{1}, .err = error.Malformed },
        .{ .offset = tx_size + 64, .bytes = &p_bytes, .err = error.NonCanonical },
        .{ .offset = tx_size + 128, .bytes = &p_bytes, .err = error.NonCanonical },
        .{ .offset = tx_size, .bytes = &.{0xff}, .err = error.NonCanonical },
    };
    for (mutations) |m| {
        var mutated = bytes;
        @memcpy(mutated[m.offset..][0..m.bytes.len], m.bytes);
        try testing.expectError(m.err, core.batch.apply(testing.allocator, &core.state, &mutated));
        try testing.expect(core.state.root().eql(root));
    }
    // A withdraw address must fit 160 bits.
    var withdraw = TestTx.withdraw(1, 1, 1, 0).encode();
    withdraw[32 + 11] = 1;
    try testing.expectError(error.Malformed, core.batch.apply(testing.allocator, &core.state, &withdraw));
    withdraw[32 + 11] = 0;
    withdraw[32 + 12] = 0xff;
    _ = try core.batch.apply(testing.allocator, &core.state, &withdraw);
    try testing.expectEqual(TxStatus.ok, core.batch.statuses[0]);
    // The first failing record decides the error, as in the Go reference.
    var mixed = bytes;
    mixed[63] = 1;
    mixed[tx_size + 7] = 9;
    @memcpy(mixed[tx_size + 64 ..][0..32], &p_bytes);
    try testing.expectError(error.Malformed, core.batch.apply(testing.allocator, &core.state, &mixed));
    mixed[63] = 0;
    mixed[7] = 9;
    try testing.expectError(error.UnknownType, core.batch.apply(testing.allocator, &core.state, &mixed));
    try testing.expectError(error.Malformed, core.batch.apply(testing.allocator, &core.state, bytes[0..100]));
    try testing.expectError(error.Malformed, core.batch.apply(testing.allocator, &core.state, bytes[0..0]));
    const too_many = try testing.allocator.alloc(u8, (max_batch_txs + 1) * tx_size);
    defer testing.allocator.free(too_many);
    @memset(too_many, 0);
    try testing.expectError(error.BatchTooLarge, core.batch.apply(testing.allocator, &core.state, too_many));
}

test "a batch equals its transactions applied one batch each" {
    var prng = std.Random.DefaultPrng.init(42);
    const random = prng.random();
    const depth = 5;
    for (0..6) |_| {
        const whole = try TestCore.init(depth);
        defer whole.deinit();
        const single = try TestCore.init(depth);
        defer single.deinit();
        var txs: [48]TestTx = undefined;
        for (&txs) |*t| {
            const from = random.uintLessThan(u32, 1 << depth);
            const to = random.uintLessThan(u32, 1 << depth);
            t.* = switch (random.uintLessThan(u32, 6)) {
                0, 1 => TestTx.deposit(from, from % 3, random.uintLessThan(u64, 1000)),
                2, 3 => TestTx.transfer(from, to, random.uintLessThan(u64, 300), random.uintLessThan(u64, 2)),
                4 => TestTx.withdraw(from, random.int(u32), random.uintLessThan(u64, 300), random.uintLessThan(u64, 2)),
                else => .{},
            };
        }
        const result = try whole.apply(&txs);
        var applied: u32 = 0;
        for (txs, 0..) |t, k| {
            const r = try single.apply(&.{t});
            try testing.expectEqual(single.batch.statuses[0], whole.batch.statuses[k]);
            try testing.expect(r.final_root.eql(whole.batch.trace[k]));
            try testing.expect(single.batch.withdrawal_leaves[0].eql(whole.batch.withdrawal_leaves[k]));
            applied += r.applied;
        }
        try testing.expectEqual(applied, result.applied);
        try testing.expect(result.final_root.eql(single.state.root()));
        try testing.expectEqual(single.state.accountCount(), whole.state.accountCount());
        try whole.expectConsistent();
    }
}
