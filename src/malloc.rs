//! glibc's allocator kept from growing the heap around big records.

/// Blocks of 128 KiB or more (a big record's body, its JSON, its answer) get pages of their own
/// that go back to the system when freed. glibc starts at this threshold but raises it to the
/// size of each such block freed, after which big blocks come from the heap, where other
/// invocations' small allocations pin the space around them. At 32 invocations at once the peak
/// resident set then crept up in ~350 KB steps over a soak, about 5 MB over the first 10,000
/// invocations (docs/failure-behaviour.md, "Soak"). Setting the threshold once turns the raising
/// off; a process that never sees a big block behaves exactly as before.
pub fn keep_big_blocks_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called from main before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
