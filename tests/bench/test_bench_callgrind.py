"""dev/bench-callgrind.py: the figures read off callgrind_annotate's output (instructions, the
SHA-256 share valgrind runs in software, malloc calls), per invoke."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_callgrind", ROOT / "dev" / "bench-callgrind.py")
bc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bc)

# Trimmed from a real dump of 400 invokes (callgrind 3.19).
FLAT = """\
--------------------------------------------------------------------------------
Ir                   
--------------------------------------------------------------------------------
291,553,205 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                    file:function
--------------------------------------------------------------------------------
 45,175,688 (15.49%)  ???:sha2::sha256::compress256 [/work/prof-head/release/flickr-job-status]
 17,223,875 ( 5.91%)  ./string/../sysdeps/x86_64/multiarch/memmove-vec-unaligned-erms.S:__memcpy_avx_unaligned_erms [/usr/lib/x86_64-linux-gnu/libc.so.6]
  7,752,706 ( 2.66%)  ./malloc/./malloc/malloc.c:malloc [/usr/lib/x86_64-linux-gnu/libc.so.6]
"""

TREE = """\
  1,629,960 ( 0.56%)  < ???:__rustc::__rust_alloc (180,000x) [/work/bin]
     12,997 ( 0.00%)  < ???:hyper::proto::h1::role::encode_headers (4,000x) [/work/bin]
  7,752,706 ( 2.66%)  *  ./malloc/./malloc/malloc.c:malloc [/usr/lib/x86_64-linux-gnu/libc.so.6]
    880,000 ( 0.30%)  >   ./malloc/./malloc/malloc.c:_int_malloc (150,000x) [/usr/lib/x86_64-linux-gnu/libc.so.6]

  4,015,620 ( 1.38%)  < ???:__rustc::__rust_dealloc (99,000x) [/work/bin]
  4,015,620 ( 1.38%)  *  ./malloc/./malloc/malloc.c:free [/usr/lib/x86_64-linux-gnu/libc.so.6]
"""


def test_figures_are_per_invoke():
    figures = bc.figures(FLAT, TREE, 400)
    assert figures["instructions"] == 291_553_205 / 400
    assert figures["sha256"] == 45_175_688 / 400
    # The callers' counts of malloc only: not free's callers, not malloc's own callees.
    assert figures["mallocs"] == (180_000 + 4_000) / 400


def test_a_build_without_symbols_has_no_sha_share_rather_than_a_wrong_one():
    stripped = FLAT.replace("sha2::sha256::compress256", "0x0000000000123456")
    assert bc.figures(stripped, TREE, 400)["sha256"] == 0
