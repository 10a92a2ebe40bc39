//! Builds the native execution core (native/) as a static library for cgo, and runs its tests.
//!
//!   zig build -Doptimize=ReleaseSafe   -> zig-out/lib/libpqcore.a, zig-out/include/pqcore.h
//!   zig build test                      -> core unit tests + shared vectors (testdata/)
//!
//! The library targets an explicit CPU baseline (x86_64_v3 on x86-64: AVX2/BMI2, any server since
//! ~2015), never `native`, so a binary built on one machine runs on another; faster paths (AVX-512
//! IFMA) are chosen at run time by CPU detection.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const optimize = b.standardOptimizeOption(.{});
    // -Dtarget / -Dcpu override the baseline.
    const target = b.standardTargetOptions(.{ .default_target = baselineQuery() });

    const lib_module = b.createModule(.{
        .root_source_file = b.path("native/src/abi.zig"),
        .target = target,
        .optimize = optimize,
        // Go links the archive into position-independent executables.
        .pic = true,
        // Go's goroutine stacks are not what Zig's stack probes expect; cgo calls run on a
        // system stack that is large enough.
        .stack_check = false,
        .stack_protector = false,
    });
    const lib = b.addLibrary(.{
        .linkage = .static,
        .name = "pqcore",
        .root_module = lib_module,
    });
    b.installArtifact(lib);
    b.getInstallStep().dependOn(&b.addInstallHeaderFile(b.path("native/include/pqcore.h"), "pqcore.h").step);

    const test_module = b.createModule(.{
        .root_source_file = b.path("native/src/tests.zig"),
        .target = target,
        .optimize = optimize,
    });
    const tests = b.addTest(.{ .root_module = test_module });
    const run_tests = b.addRunArtifact(tests);
    // Shared vectors are read from testdata/ relative to the repository root.
    run_tests.setCwd(b.path("."));
    const test_step = b.step("test", "Run the core's unit tests and the shared test vectors");
    test_step.dependOn(&run_tests.step);
}

fn baselineQuery() std.Target.Query {
    if (@import("builtin").cpu.arch == .x86_64) {
        return .{ .cpu_model = .{ .explicit = &std.Target.x86.cpu.x86_64_v3 } };
    }
    return .{ .cpu_model = .baseline };
}
