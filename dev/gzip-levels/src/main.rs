//! CPU time and size of deflate (the body of a gzip answer) per backend and level, for the
//! sample answers: `cargo run --release -- DIR` with DIR from `dev/make-fixtures.py --samples`.

use std::time::Instant;

fn miniz(data: &[u8], level: u8) -> usize {
    miniz_oxide::deflate::compress_to_vec(data, level).len()
}

fn zlib_rs(data: &[u8], level: i32) -> usize {
    let mut out = vec![0u8; data.len() + data.len() / 1000 + 64];
    let (compressed, code) = zlib_rs::deflate::compress_slice(
        &mut out,
        data,
        zlib_rs::deflate::DeflateConfig {
            level,
            method: zlib_rs::deflate::Method::Deflated,
            window_bits: -15,
            mem_level: 8,
            strategy: zlib_rs::deflate::Strategy::Default,
        },
    );
    assert_eq!(code, zlib_rs::ReturnCode::Ok);
    compressed.len()
}

/// Median CPU microseconds of `run` over enough repetitions for ~0.3 s, and its output size.
fn measure(mut run: impl FnMut() -> usize) -> (f64, usize) {
    let size = run();
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 0.3 || times.len() < 5 {
        let at = Instant::now();
        std::hint::black_box(run());
        times.push(at.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], size)
}

/// Inflate of `compressed` (raw deflate) back to `size` bytes.
fn inflate_miniz(compressed: &[u8]) -> usize {
    miniz_oxide::inflate::decompress_to_vec(compressed).map_or(0, |out| out.len())
}

fn inflate_zlib_rs(compressed: &[u8], size: usize) -> usize {
    let mut out = vec![0u8; size];
    let (back, code) = zlib_rs::inflate::uncompress_slice(
        &mut out,
        compressed,
        zlib_rs::inflate::InflateConfig { window_bits: -15 },
    );
    assert_eq!(code, zlib_rs::ReturnCode::Ok);
    back.len()
}

fn main() {
    let dir = std::env::args().nth(1).expect("the samples directory");
    println!("| answer | bytes | backend | level | µs (median) | gzip bytes | ratio |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    for name in ["small", "standard", "extras"] {
        let data = std::fs::read(format!("{dir}/{name}.json")).expect("a sample");
        // The gzip frame: 10-byte header, 8-byte trailer with the CRC (computed either way).
        let (crc_us, _) = measure(|| crc32fast::hash(&data) as usize);
        for level in [1u8, 2, 3, 4, 6, 9] {
            for (backend, (us, size)) in [
                ("miniz_oxide", measure(|| miniz(&data, level))),
                ("zlib-rs", measure(|| zlib_rs(&data, i32::from(level)))),
            ] {
                let size = size + 18;
                println!(
                    "| {name} | {} | {backend} | {level} | {:.0} | {size} | {:.1}× |",
                    data.len(),
                    us + crc_us,
                    data.len() as f64 / size as f64
                );
            }
        }
    }
    // A worker's compressed record (level 9), decompressed by the function.
    println!();
    println!("| record | compressed bytes | backend | inflate µs (median) |");
    println!("|---|---:|---|---:|");
    for name in ["standard", "extras"] {
        let data = std::fs::read(format!("{dir}/{name}.json")).expect("a sample");
        let compressed = miniz_oxide::deflate::compress_to_vec(&data, 9);
        let (crc_us, _) = measure(|| crc32fast::hash(&data) as usize);
        let (miniz_us, n) = measure(|| inflate_miniz(&compressed));
        assert_eq!(n, data.len());
        let (zlib_us, n) = measure(|| inflate_zlib_rs(&compressed, data.len()));
        assert_eq!(n, data.len());
        let size = compressed.len() + 18;
        println!("| {name} | {size} | miniz_oxide | {:.0} |", miniz_us + crc_us);
        println!("| {name} | {size} | zlib-rs | {:.0} |", zlib_us + crc_us);
    }
}
