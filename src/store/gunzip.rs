//! A `returnvalue` stored as B holding gzip-compressed JSON (docs/API.md#10-the-job-record):
//! decompressed as a stream through a hard 16 MiB cap, never allocating past it, and no more
//! than two decompressions over 1 MiB at a time in one process.
//!
//! "Over 1 MiB" is decided by the stream, not by the gzip trailer: the first MiB is decompressed
//! by anyone; a stream that goes on past it waits for one of two permits (a FIFO semaphore, so
//! the others wait their turn, each for the milliseconds one inflate takes) before another byte
//! is written. The ISIZE trailer is only a hint for the buffer's first size: a bomb can write any
//! ISIZE it likes, and the cap holds whatever it says.

use std::io::Read;

use flate2::read::MultiGzDecoder;
use tokio::sync::Semaphore;

/// The most a compressed `returnvalue` may hold, decompressed.
pub const MAX_DECOMPRESSED: usize = 16 * 1024 * 1024;

/// Past this, a decompression needs one of the `LARGE_AT_ONCE` permits.
pub const LARGE: usize = 1024 * 1024;

/// Decompressions over `LARGE` that may run at once in one process.
pub const LARGE_AT_ONCE: usize = 2;

/// The permits of the large decompressions: one process, one semaphore.
static LARGE_DECOMPRESSIONS: Semaphore = Semaphore::const_new(LARGE_AT_ONCE);

/// How much the buffer grows by at most, per read.
const CHUNK: usize = 64 * 1024;

/// Why a compressed `returnvalue` cannot be used (the corrupt-record 500 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GunzipError {
    /// Not a gzip stream, truncated, or failing its CRC.
    NotGzip,
    /// More than `MAX_DECOMPRESSED` bytes decompressed.
    TooLarge,
}

/// The decompressed bytes of `compressed`, at most `MAX_DECOMPRESSED`.
pub async fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, GunzipError> {
    gunzip_with(compressed, MAX_DECOMPRESSED, &LARGE_DECOMPRESSIONS).await
}

/// `gunzip` with its cap and permits given (tests use small ones).
async fn gunzip_with(
    compressed: &[u8],
    cap: usize,
    permits: &Semaphore,
) -> Result<Vec<u8>, GunzipError> {
    let hint = declared_size(compressed).unwrap_or(0);
    let mut inflater = Inflater {
        decoder: MultiGzDecoder::new(compressed),
        out: Vec::with_capacity(hint.min(LARGE.min(cap)) + 1),
    };
    if inflater.fill(LARGE.min(cap) + 1)? == Filled::End {
        return Ok(inflater.out);
    }
    if cap <= LARGE {
        return Err(GunzipError::TooLarge);
    }
    // A closed semaphore cannot happen (it is never closed); it would mean no limit, not a hang.
    let _permit = permits.acquire().await.ok();
    // The trailer's size, when it is believable, spares the doublings on the way there.
    if hint > inflater.out.len() && hint <= cap {
        inflater.out.reserve_exact(hint + 1 - inflater.out.len());
    }
    match inflater.fill(cap + 1)? {
        Filled::End => Ok(inflater.out),
        Filled::Limit => Err(GunzipError::TooLarge),
    }
}

/// ISIZE, the last four bytes of a gzip member: its decompressed size modulo 2^32, as claimed.
pub fn declared_size(compressed: &[u8]) -> Option<usize> {
    let trailer: [u8; 4] = compressed
        .get(compressed.len().checked_sub(4)?..)?
        .try_into()
        .ok()?;
    usize::try_from(u32::from_le_bytes(trailer)).ok()
}

struct Inflater<'a> {
    decoder: MultiGzDecoder<&'a [u8]>,
    out: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum Filled {
    End,
    Limit,
}

impl Inflater<'_> {
    /// Decompresses until the stream ends or `limit` bytes are out; the buffer never holds
    /// more than `limit` bytes of capacity.
    fn fill(&mut self, limit: usize) -> Result<Filled, GunzipError> {
        loop {
            let len = self.out.len();
            if len >= limit {
                return Ok(Filled::Limit);
            }
            let want = (limit - len).min(CHUNK);
            if self.out.capacity() - len < want {
                // Doubling, as Vec would, but never past the limit.
                let target = (len * 2).clamp(len + want, limit);
                self.out.reserve_exact(target - len);
            }
            self.out.resize(len + want, 0);
            let read = self.decoder.read(&mut self.out[len..]);
            match read {
                Ok(0) => {
                    self.out.truncate(len);
                    return Ok(Filled::End);
                }
                Ok(n) => self.out.truncate(len + n),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {
                    self.out.truncate(len)
                }
                Err(_) => return Err(GunzipError::NotGzip),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[tokio::test]
    async fn small_and_large_streams_come_back_whole() {
        for size in [0, 1, LARGE - 1, LARGE, LARGE + 1, 3 * LARGE + 17] {
            let text: Vec<u8> = (0..size).map(|i| b"{}[],:0123456789"[i % 16]).collect();
            assert_eq!(gunzip(&gzip(&text)).await, Ok(text), "{size}");
        }
    }

    #[tokio::test]
    async fn the_cap_is_exact_and_never_allocated_past() {
        let cap = 2 * LARGE;
        let at_cap = vec![b' '; cap];
        let permits = Semaphore::new(1);
        let back = gunzip_with(&gzip(&at_cap), cap, &permits).await.unwrap();
        assert_eq!(back.len(), cap);
        let over = vec![b' '; cap + 1];
        assert_eq!(
            gunzip_with(&gzip(&over), cap, &permits).await,
            Err(GunzipError::TooLarge)
        );
        // The real cap, with a bomb whose trailer lies (says 10 bytes): still refused.
        let mut bomb = gzip(&vec![0u8; MAX_DECOMPRESSED + 1]);
        assert!(bomb.len() < 20_000, "a few KB: {}", bomb.len());
        let at = bomb.len() - 4;
        bomb[at..].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(gunzip(&bomb).await, Err(GunzipError::TooLarge));
    }

    #[test]
    fn capacity_stays_within_the_limit() {
        let text = vec![b'x'; 5 * LARGE];
        let compressed = gzip(&text);
        let mut inflater = Inflater {
            decoder: MultiGzDecoder::new(compressed.as_slice()),
            out: Vec::new(),
        };
        let limit = 3 * LARGE + 5;
        assert_eq!(inflater.fill(limit), Ok(Filled::Limit));
        assert_eq!(inflater.out.len(), limit);
        assert!(
            inflater.out.capacity() <= limit,
            "{}",
            inflater.out.capacity()
        );
    }

    #[tokio::test]
    async fn not_gzip_is_refused() {
        let good = gzip(br#"{"flickr":{}}"#);
        for bad in [
            b"{\"flickr\":{}}".to_vec(),
            Vec::new(),
            good[..good.len() - 3].to_vec(),
            {
                let mut crc = good.clone();
                let at = crc.len() - 6;
                crc[at] ^= 0xff;
                crc
            },
        ] {
            assert_eq!(gunzip(&bad).await, Err(GunzipError::NotGzip), "{bad:?}");
        }
        // Two members are one stream (RFC 1952), as gunzip reads them.
        let mut two = gzip(b"[1,");
        two.extend(gzip(b"2]"));
        assert_eq!(gunzip(&two).await, Ok(b"[1,2]".to_vec()));
    }

    #[test]
    fn the_trailer_is_read() {
        assert_eq!(declared_size(&gzip(&[7; 1000])), Some(1000));
        assert_eq!(declared_size(&[1, 2]), None);
    }

    #[tokio::test]
    async fn a_third_large_decompression_waits_for_a_permit() {
        let permits = Arc::new(Semaphore::new(LARGE_AT_ONCE));
        // Two large decompressions are running (their permits held).
        let held = permits.clone().acquire_many_owned(2).await.unwrap();
        let large = Arc::new(gzip(&vec![b'x'; 3 * LARGE]));
        let small = gzip(&vec![b'x'; LARGE / 2]);
        let (task_permits, task_large) = (permits.clone(), large.clone());
        let third = tokio::spawn(async move {
            gunzip_with(&task_large, MAX_DECOMPRESSED, &task_permits)
                .await
                .map(|out| out.len())
        });
        // A small one never waits.
        assert_eq!(
            gunzip_with(&small, MAX_DECOMPRESSED, &permits)
                .await
                .map(|o| o.len()),
            Ok(LARGE / 2)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!third.is_finished(), "the third waited its turn");
        drop(held);
        assert_eq!(third.await.unwrap(), Ok(3 * LARGE));
        assert_eq!(
            permits.available_permits(),
            LARGE_AT_ONCE,
            "permits come back"
        );
    }
}
