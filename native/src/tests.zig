//! Test root for `zig build test`: every file's tests, then the shared vectors.
test {
    _ = @import("fr.zig");
    _ = @import("poseidon2.zig");
    _ = @import("smt.zig");
    _ = @import("state.zig");
    _ = @import("exec.zig");
    _ = @import("snapshot.zig");
    _ = @import("witness.zig");
    _ = @import("abi.zig");
    _ = @import("vectors_test.zig");
}
