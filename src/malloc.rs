//! glibc's allocator kept from growing the heap around big records when invocations overlap.

/// Blocks of 128 KiB or more (a big record's body, its JSON, its answer) get pages of their own
/// that go back to the system when freed. glibc starts at this threshold but raises it to the
/// size of each such block freed, after which big blocks come from the heap. With invocations
/// overlapping, other invocations' small allocations pin the space around them, and at 32 at
/// once the peak resident set crept up in ~350 KB steps: 26.9 → 28.4 MB between 100,000 and
/// 1,000,000 invocations, against 20.3 → 20.6 MB with this (21.1 in a second run;
/// docs/failure-behaviour.md, "Soak").
/// Setting the threshold once turns the raising off.
///
/// Only for several invocations at once (main.rs): one at a time the heap is reused exactly
/// (flat over a million invocations), and pages of their own would cost a 500-photo result
/// 0.35-0.65 ms more CPU (6-17%, docs/performance.md#compressed-answers).
pub fn keep_big_blocks_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called from main before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
