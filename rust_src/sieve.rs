//! Sum of the primes below `n` by a segmented sieve of Eratosthenes on a mod-30 wheel.
//!
//! Plain Rust with no PyO3 in it, so `cargo test` exercises it directly and the
//! binding stays a thin layer of argument checks and GIL handling.
//!
//! Layout (primesieve's): byte `i` of the sieve stands for the eight numbers `30i + r`
//! coprime to 30, `r` in [`RESIDUES`], one bit each; a set bit means "composite". Only
//! 8 of every 30 numbers are stored, and a prime `p` crosses off its multiples `p·q`
//! for `q` coprime to 30 only, eight per turn of the wheel, a turn being exactly `p`
//! bytes: one unrolled loop per prime, whatever the residue of its multiples. The
//! bytes are processed in segments that fit in a core's L2 cache, so memory stays
//! O(√n): the base primes up to √n with their next multiple, plus one segment per
//! worker. Multiples of 7 … 167 are not crossed off one by one: precomputed patterns,
//! periodic in whole bytes, are copied into each segment (pre-sieving). Sums are taken
//! a 64-bit word at a time with population counts. Segments are independent once a
//! worker knows where each base prime's next multiple falls, so contiguous runs of
//! segments go to rayon workers.

use rayon::prelude::*;
use rayon::ThreadPool;
use std::sync::OnceLock;

use crate::cancel::{Cancelled, Deadline};

/// Largest `n` accepted. Far beyond what finishes in reasonable time; it bounds the
/// base-prime table and keeps every partial sum comfortably inside `u128`.
pub const MAX_N: u64 = 1 << 50;

/// Residues mod 30 of the numbers coprime to 30: bit `j` of a byte stands for `RESIDUES[j]`.
/// The sublinear sum's sieves step over the same wheel.
pub(crate) const RESIDUES: [u64; 8] = [1, 7, 11, 13, 17, 19, 23, 29];
/// Bytes per segment: 128 KiB, 3.9 million numbers. Measured on the earlier layout: an
/// L1-sized segment (32 KiB) loses at n ≥ 10^10, where most base primes exceed a
/// segment and their per-segment bookkeeping dominates; an L2-sized one does not.
const SEGMENT_BYTES: usize = 128 * 1024;
/// Numbers covered by one segment.
const SEGMENT_SPAN: u64 = 30 * SEGMENT_BYTES as u64;

/// Primes removed by pre-sieving, in groups whose pattern (one byte per 30 numbers, so
/// the product of the group in bytes) stays small: 227 KiB in all, built once.
const PRESIEVE_GROUPS: [&[u64]; 16] = [
    &[7, 11, 13, 17],
    &[19, 23, 29],
    &[31, 37, 41],
    &[43, 47],
    &[53, 59],
    &[61, 67],
    &[71, 73],
    &[79, 83],
    &[89, 97],
    &[101, 103],
    &[107, 109],
    &[113, 127],
    &[131, 137],
    &[139, 149],
    &[151, 157],
    &[163, 167],
];
const LARGEST_PRESIEVED: u64 = 167;

/// Runs shorter than this many segments are not worth handing to other threads.
/// Measured on two cores: from two segments (n ≈ 4·10^6) up, two threads already win.
const PARALLEL_MIN_SEGMENTS: u64 = 2;
/// Work items per pool thread: more items than threads evens out uneven progress.
const CHUNKS_PER_THREAD: u64 = 8;

/// Sum of all primes `p < n`, on the calling thread.
#[must_use]
pub fn sum_of_primes(n: u64) -> u128 {
    sum_of_primes_on(n, None)
}

/// Sum of all primes `p < n`, spreading segments over `pool` when `n` is large enough.
///
/// `pool = None` runs everything on the calling thread.
///
/// # Panics
/// If `n > MAX_N`; callers check the bound and report it as a user error.
#[must_use]
pub fn sum_of_primes_on(n: u64, pool: Option<&ThreadPool>) -> u128 {
    sum_of_primes_until(n, pool, &Deadline::never()).expect("a deadline that never expires")
}

/// [`sum_of_primes_on`] that stops once `deadline` expires, checked between segments.
///
/// # Errors
/// [`Cancelled`] when the deadline expired before the sum was complete.
///
/// # Panics
/// If `n > MAX_N`.
pub fn sum_of_primes_until(
    n: u64,
    pool: Option<&ThreadPool>,
    deadline: &Deadline,
) -> Result<u128, Cancelled> {
    assert!(n <= MAX_N, "n = {n} exceeds MAX_N = {MAX_N}");
    deadline.check()?;
    let wheel_primes: u128 = [2u64, 3, 5]
        .iter()
        .filter(|&&p| p < n)
        .map(|&p| u128::from(p))
        .sum();
    if n <= 7 {
        return Ok(wheel_primes);
    }
    let root = isqrt(n - 1);
    let computed;
    let crossing: &[u32] = if root <= SMALL_ROOTS {
        // From a table made once: a small n is mostly this call's fixed cost.
        let table = crossing_primes_up_to_small_roots();
        &table[..table.partition_point(|&p| u64::from(p) <= root)]
    } else {
        computed = crossing_primes_up_to(root);
        &computed
    };
    let segments = n.div_ceil(SEGMENT_SPAN);
    let run = |from: u64, to: u64| sum_segments(n, crossing, from, to, deadline);

    let sieved = match pool {
        Some(pool) if segments >= PARALLEL_MIN_SEGMENTS && pool.current_num_threads() > 1 => {
            let chunks = (pool.current_num_threads() as u64 * CHUNKS_PER_THREAD).min(segments);
            pool.install(|| {
                (0..chunks)
                    .into_par_iter()
                    .map(|c| run(segments * c / chunks, segments * (c + 1) / chunks))
                    .try_reduce(|| 0, |a, b| Ok(a + b))
            })
        }
        _ => run(0, segments),
    }?;
    Ok(wheel_primes + sieved)
}

/// Integer square root: the largest `r` with `r * r <= x`, for any `u64`.
pub(crate) fn isqrt(x: u64) -> u64 {
    let mut r = ((x as f64).sqrt() as u64).min(u64::from(u32::MAX));
    while r * r > x {
        r -= 1;
    }
    while (r + 1).checked_mul(r + 1).is_some_and(|square| square <= x) {
        r += 1;
    }
    r
}

/// Square roots up to which the crossing primes come from a table made once (16 KiB).
const SMALL_ROOTS: u64 = 1 << 16;

fn crossing_primes_up_to_small_roots() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| crossing_primes_up_to(SMALL_ROOTS))
}

/// The primes `p <= limit` that cross off their multiples: those above the pre-sieved.
fn crossing_primes_up_to(limit: u64) -> Vec<u32> {
    odd_primes_up_to(limit)
        .into_iter()
        .filter(|&p| u64::from(p) > LARGEST_PRESIEVED)
        .collect()
}

/// Odd primes `p <= limit`, by a plain odd-only sieve (`limit` is at most √MAX_N).
fn odd_primes_up_to(limit: u64) -> Vec<u32> {
    if limit < 3 {
        return Vec::new();
    }
    let len = (limit as usize - 1) / 2; // index i stands for 2i + 3
    let mut composite = vec![0u64; len.div_ceil(64)];
    let mut primes = Vec::new();
    for i in 0..len {
        if composite[i / 64] >> (i % 64) & 1 == 1 {
            continue;
        }
        let p = 2 * i + 3;
        primes.push(p as u32);
        let mut j = (p * p - 3) / 2;
        while j < len {
            composite[j / 64] |= 1 << (j % 64);
            j += p;
        }
    }
    primes
}

/// `RESIDUES[j]` at `r`, for `r` coprime to 30 (`u8::MAX` elsewhere).
const WHEEL_INDEX: [u8; 30] = {
    let mut index = [u8::MAX; 30];
    let mut j = 0;
    while j < 8 {
        index[RESIDUES[j] as usize] = j as u8;
        j += 1;
    }
    index
};

/// `RESIDUES[j + 1] - RESIDUES[j]`, wrapping to 31 (the next turn's 1): the steps of
/// `q` through the numbers coprime to 30.
pub(crate) const GAPS: [usize; 8] = [6, 4, 2, 4, 2, 4, 6, 2];

/// For a prime with residue index `s` and a multiple `p·q` with `q`'s residue index `w`:
/// the bit of `p·q` in its byte, and the carry part of the byte step to the next
/// multiple (the step is `(p / 30)·GAPS[w] + STEP_CARRY[s][w]`).
const BIT: [[u8; 8]; 8] = wheel_table(false);
const STEP_CARRY: [[u8; 8]; 8] = wheel_table(true);

const fn wheel_table(carry: bool) -> [[u8; 8]; 8] {
    let mut table = [[0u8; 8]; 8];
    let mut s = 0;
    while s < 8 {
        let mut w = 0;
        while w < 8 {
            let (r, q) = (RESIDUES[s], RESIDUES[w]);
            let next_q = if w == 7 { 31 } else { RESIDUES[w + 1] };
            table[s][w] = if carry {
                (r * next_q / 30 - r * q / 30) as u8
            } else {
                1 << WHEEL_INDEX[(r * q % 30) as usize]
            };
            w += 1;
        }
        s += 1;
    }
    table
}

/// A pre-sieve pattern: byte `i` marks the numbers `30i + r` that are multiples of one
/// of the group's primes. Its length, the product of the primes, is its period.
fn presieve_patterns() -> &'static [Vec<u8>] {
    static PATTERNS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        PRESIEVE_GROUPS
            .iter()
            .map(|group| {
                let period = group.iter().product::<u64>() as usize;
                let mut pattern = vec![0u8; period];
                for &p in *group {
                    // Every multiple, p itself on: the pattern repeats.
                    let from_p = Multiple {
                        byte: (p / 30) as usize,
                        wheel: 0,
                    };
                    from_p.cross(&mut pattern, p as usize);
                }
                pattern
            })
            .collect()
    })
}

/// Writes the pre-sieve patterns into `bytes`, the segment's bytes from absolute byte
/// `first` on.
#[allow(clippy::inline_always)] // into each variant of sieve_segments_fastest
#[inline(always)]
fn presieve(bytes: &mut [u8], first: u64, patterns: &[Vec<u8>]) {
    for (g, pattern) in patterns.iter().enumerate() {
        let mut at = (first % pattern.len() as u64) as usize;
        let mut filled = 0;
        while filled < bytes.len() {
            let take = (bytes.len() - filled).min(pattern.len() - at);
            let (dst, src) = (&mut bytes[filled..filled + take], &pattern[at..at + take]);
            if g == 0 {
                dst.copy_from_slice(src);
            } else {
                dst.iter_mut().zip(src).for_each(|(d, s)| *d |= s);
            }
            filled += take;
            at = 0;
        }
    }
}

/// A base prime's next multiple `p·q` to cross off: its byte, relative to the current
/// segment, and the residue index of `q`.
#[derive(Clone, Copy)]
struct Multiple {
    byte: usize,
    wheel: usize,
}

impl Multiple {
    /// The first multiple `p·q ≥ max(p², 30·first)` with `q` coprime to 30, relative
    /// to byte `first`. Multiples below `p²` have a smaller prime factor.
    fn first(p: u64, first: u64) -> Self {
        let q_min = p.max((30 * first).div_ceil(p));
        let wheel = RESIDUES
            .iter()
            .position(|&r| r >= q_min % 30)
            .expect("every residue is at most 29");
        let q = q_min - q_min % 30 + RESIDUES[wheel];
        Self {
            byte: usize::try_from(p * q / 30 - first).expect("within the segments ahead"),
            wheel,
        }
    }

    /// Crosses off `p`'s multiples from this one up to the end of `bytes`; the next one
    /// past it. Whole turns of the wheel (`p` bytes, eight multiples) run unrolled.
    #[allow(clippy::inline_always)] // into each variant of sieve_segments_fastest
    #[inline(always)]
    fn cross(self, bytes: &mut [u8], p: usize) -> Self {
        let Self {
            mut byte,
            mut wheel,
        } = self;
        let (b, s) = (p / 30, usize::from(WHEEL_INDEX[p % 30]));
        if byte + p <= bytes.len() {
            let mut offsets = [0usize; 8];
            let mut bits = [0u8; 8];
            let mut offset = 0;
            for k in 0..8 {
                let w = (wheel + k) % 8;
                offsets[k] = offset;
                bits[k] = BIT[s][w];
                offset += b * GAPS[w] + usize::from(STEP_CARRY[s][w]);
            }
            while byte + p <= bytes.len() {
                let turn = &mut bytes[byte..byte + p];
                for k in 0..8 {
                    turn[offsets[k]] |= bits[k];
                }
                byte += p;
            }
        }
        while byte < bytes.len() {
            bytes[byte] |= BIT[s][wheel];
            byte += b * GAPS[wheel] + usize::from(STEP_CARRY[s][wheel]);
            wheel = (wheel + 1) % 8;
        }
        Self { byte, wheel }
    }
}

/// One worker's share: the primes ≥ 7 and below `n` in segments `[first, end)`, with
/// the base primes that cross off (those above the pre-sieved, up to √n).
struct Share<'a> {
    n: u64,
    primes: &'a [u32],
    first: u64,
    end: u64,
    deadline: &'a Deadline<'a>,
}

/// Sum of the primes ≥ 7 and below `n` in segments `[first, end)`.
fn sum_segments(
    n: u64,
    primes: &[u32],
    first: u64,
    end: u64,
    deadline: &Deadline,
) -> Result<u128, Cancelled> {
    let mut buffer = SEGMENT_BUFFER.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    buffer.resize(SEGMENT_BYTES, 0);
    let share = Share {
        n,
        primes,
        first,
        end,
        deadline,
    };
    let total = sieve_segments_fastest(&mut buffer, &share);
    SEGMENT_BUFFER.with(|cell| *cell.borrow_mut() = buffer);
    total
}

thread_local! {
    /// Each thread's segment buffer, kept between calls: zeroing a fresh 128 KiB
    /// buffer on every call (a memset callgrind showed on each one) is a large share
    /// of sieving a small `n`. [`presieve`] overwrites every byte a segment then reads,
    /// so what a previous call left there never matters.
    static SEGMENT_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`sieve_segments`] compiled for the widest instructions this CPU has: baseline
/// x86-64 lacks POPCNT (the tally) and AVX2 (pre-sieving, 32 bytes at a time), so
/// check at run time.
fn sieve_segments_fastest(buffer: &mut [u8], share: &Share) -> Result<u128, Cancelled> {
    #[cfg(target_arch = "x86_64")]
    {
        /// `sieve_segments` compiled with `$features` enabled.
        macro_rules! compiled_with {
            ($features:literal) => {{
                #[target_feature(enable = $features)]
                #[allow(unsafe_code)] // only to enable the features; the body is safe code
                unsafe fn variant(buffer: &mut [u8], share: &Share) -> Result<u128, Cancelled> {
                    sieve_segments(buffer, share)
                }
                variant
            }};
        }
        let popcnt = std::arch::is_x86_feature_detected!("popcnt");
        let variant = if popcnt && std::arch::is_x86_feature_detected!("avx2") {
            Some(compiled_with!("avx2,popcnt") as unsafe fn(_, _) -> _)
        } else if popcnt {
            Some(compiled_with!("popcnt") as unsafe fn(_, _) -> _)
        } else {
            None
        };
        if let Some(variant) = variant {
            // SAFETY: the CPU has the variant's features, checked just above.
            #[allow(unsafe_code)]
            return unsafe { variant(buffer, share) };
        }
    }
    sieve_segments(buffer, share)
}

/// [`sum_segments`] in `buffer` (one segment of `SEGMENT_BYTES`).
#[allow(clippy::inline_always)] // into each variant of sieve_segments_fastest
#[inline(always)]
fn sieve_segments(buffer: &mut [u8], share: &Share) -> Result<u128, Cancelled> {
    let Share {
        n,
        primes,
        first,
        end,
        deadline,
    } = *share;
    let patterns = presieve_patterns();
    // Next multiples of the base primes whose square has been reached; the rest wait.
    let mut next: Vec<Multiple> = Vec::with_capacity(primes.len());
    let mut total = 0u128;
    for segment in first..end {
        deadline.check()?; // a segment is about a millisecond of work
        let first_byte = segment * SEGMENT_BYTES as u64;
        let lo = segment * SEGMENT_SPAN;
        let hi = (lo + SEGMENT_SPAN).min(n);
        // All bytes except in the last segment, where sieving the unused tail would
        // dominate small n; a whole number of words, for the tally.
        let len = (hi - lo).div_ceil(30) as usize;
        let bytes = &mut buffer[..len.next_multiple_of(8)];

        presieve(bytes, first_byte, patterns);
        if segment == 0 {
            bytes[0] |= 1; // 1 is not prime…
            for &p in PRESIEVE_GROUPS.iter().copied().flatten() {
                let bit = WHEEL_INDEX[(p % 30) as usize];
                bytes[(p / 30) as usize] &= !(1 << bit); // …but the pre-sieved primes are
            }
        }
        while next.len() < primes.len() && u64::from(primes[next.len()]).pow(2) < hi {
            next.push(Multiple::first(u64::from(primes[next.len()]), first_byte));
        }
        for (&p, multiple) in primes.iter().zip(next.iter_mut()) {
            *multiple = multiple.cross(&mut bytes[..len], p as usize);
            // Relative to the next segment (meaningless after the last, short one).
            multiple.byte = multiple.byte.saturating_sub(SEGMENT_BYTES);
        }
        // The last byte's numbers from `n` on, and the padding, are not in the range.
        let last = lo + 30 * (len as u64 - 1);
        for (j, &r) in RESIDUES.iter().enumerate() {
            if last + r >= hi {
                bytes[len - 1] |= 1 << j;
            }
        }
        bytes[len..].fill(u8::MAX);
        total += sum_segment(bytes, first_byte);
    }
    Ok(total)
}

/// Sum of `30·(first + i) + RESIDUES[j]` over the clear bits `j` of bytes `i`.
#[allow(clippy::inline_always)] // into each variant of sieve_segments_fastest
#[inline(always)]
fn sum_segment(bytes: &[u8], first: u64) -> u128 {
    let (count, byte_sum, residue_sum) = tally(bytes);
    30 * (u128::from(first) * u128::from(count) + u128::from(byte_sum)) + u128::from(residue_sum)
}

/// Count of clear bits, the sum of their byte indices and of their residues.
#[inline(always)]
fn tally(bytes: &[u8]) -> (u64, u64, u64) {
    // A word holds 8 bytes: byte k's bits are bits 8k … 8k + 7. The byte index of a
    // clear bit is Σ 2^b over the set bits b of k, so count the clear bits in the bytes
    // whose k has bit b, for each b. Likewise its residue, Σ 2^b over the set bits b of
    // the residue: RESIDUE_BITS[b] holds the bit positions whose residue has bit b.
    const BYTE_BITS: [u64; 3] = [
        0xFF00_FF00_FF00_FF00,
        0xFFFF_0000_FFFF_0000,
        0xFFFF_FFFF_0000_0000,
    ];
    const RESIDUE_BITS: [u64; 5] = {
        let mut masks = [0u64; 5];
        let mut b = 0;
        while b < 5 {
            let mut j = 0;
            while j < 8 {
                if RESIDUES[j] >> b & 1 == 1 {
                    masks[b] |= 0x0101_0101_0101_0101 << j;
                }
                j += 1;
            }
            b += 1;
        }
        masks
    };
    let mut count = 0u64;
    let mut byte_sum = 0u64; // at most SEGMENT_BYTES² / 2: fits easily
    let mut residue_sum = 0u64;
    for (w, chunk) in bytes.chunks_exact(8).enumerate() {
        let primes = !u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let c = u64::from(primes.count_ones());
        let mut within = 0u64;
        for (b, mask) in BYTE_BITS.iter().enumerate() {
            within += u64::from((primes & mask).count_ones()) << b;
        }
        for (b, mask) in RESIDUE_BITS.iter().enumerate() {
            residue_sum += u64::from((primes & mask).count_ones()) << b;
        }
        count += c;
        byte_sum += 8 * w as u64 * c + within;
    }
    (count, byte_sum, residue_sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::ThreadPoolBuilder;

    /// An independent reference: a plain sieve marking the primes `< n`.
    fn simple_primes(n: u64) -> Vec<bool> {
        let n = n as usize;
        let mut prime = vec![true; n.max(2)];
        prime[0] = false;
        prime[1] = false;
        let mut i = 2;
        while i * i < n {
            if prime[i] {
                let mut j = i * i;
                while j < n {
                    prime[j] = false;
                    j += i;
                }
            }
            i += 1;
        }
        prime.truncate(n);
        prime
    }

    fn simple_sum(n: u64) -> u128 {
        simple_primes(n)
            .iter()
            .enumerate()
            .filter(|(_, &p)| p)
            .map(|(i, _)| i as u128)
            .sum()
    }

    /// A second independent reference that needs no sieve up to `n`: Lucy Hedgehog's
    /// prime-sum algorithm, O(n^¾) time, exact in u128. Used for n far beyond what a
    /// plain sieve can hold in memory.
    fn lucy_sum(n: u64) -> u128 {
        if n < 3 {
            return 0;
        }
        let m = n - 1; // primes <= m
        let r = isqrt(m);
        let mut values: Vec<u64> = (1..=r).map(|i| m / i).collect();
        let last = *values.last().unwrap();
        values.extend((1..last).rev());
        let index = |v: u64| -> usize {
            if v <= r {
                values.len() - v as usize
            } else {
                (m / v) as usize - 1
            }
        };
        let mut sums: Vec<u128> = values
            .iter()
            .map(|&v| u128::from(v) * (u128::from(v) + 1) / 2 - 1)
            .collect();
        for p in 2..=r {
            if sums[index(p)] == sums[index(p - 1)] {
                continue; // p is composite
            }
            let below_p = sums[index(p - 1)];
            let p2 = p * p;
            for k in 0..values.len() {
                let v = values[k];
                if v < p2 {
                    break;
                }
                let d = sums[index(v / p)] - below_p;
                sums[k] -= u128::from(p) * d;
            }
        }
        sums[0]
    }

    fn pool(threads: usize) -> ThreadPool {
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn known_values() {
        for (n, expected) in [
            (6u64, 10u128),
            (10, 17),
            (100, 1060),
            (100_000, 454_396_537),
            (2_000_000, 142_913_828_922),
        ] {
            assert_eq!(sum_of_primes(n), expected, "n = {n}");
        }
    }

    #[test]
    fn one_billion() {
        let pool = pool(2);
        assert_eq!(
            sum_of_primes_on(1_000_000_000, Some(&pool)),
            24_739_512_092_254_535
        );
    }

    #[test]
    fn tiny_n() {
        assert_eq!(sum_of_primes(0), 0);
        assert_eq!(sum_of_primes(1), 0);
        assert_eq!(sum_of_primes(2), 0);
        assert_eq!(sum_of_primes(3), 2);
        assert_eq!(sum_of_primes(4), 5);
    }

    #[test]
    fn every_small_n_matches_simple_sieve() {
        const TOP: u64 = 40_000; // past 173², the first square of a prime that crosses off
        let primes_to_top = simple_primes(TOP);
        let mut expected = 0u128;
        for n in 0..TOP {
            assert_eq!(sum_of_primes(n), expected, "n = {n}");
            if primes_to_top[n as usize] {
                expected += u128::from(n); // n is prime: it counts from n + 1 on
            }
        }
    }

    #[test]
    fn word_and_segment_boundaries() {
        let pool = pool(3);
        let span = SEGMENT_SPAN;
        let mut cases = vec![];
        for k in [1u64, 2, 3, 5, 8] {
            for d in [0u64, 1, 2, 3, 63, 64, 65, 127, 128, 129] {
                cases.push(k * span + d);
                cases.push(k * span - d);
            }
        }
        for n in 0..200 {
            cases.push(n); // the wheel primes 2, 3, 5 and the pre-sieved primes up to 167
        }
        // Each pre-sieve pattern wraps every `period` bytes.
        for group in PRESIEVE_GROUPS {
            let wrap = 30 * group.iter().product::<u64>();
            cases.extend([wrap - 1, wrap, wrap + 1, 3 * wrap + 7]);
        }
        for p in 2..200 {
            cases.push(p * p); // around the squares of the pre-sieved and first crossed primes
            cases.push(p * p + 1);
        }
        for n in cases {
            let expected = simple_sum(n);
            assert_eq!(sum_of_primes(n), expected, "serial, n = {n}");
            assert_eq!(sum_of_primes_on(n, Some(&pool)), expected, "pool, n = {n}");
        }
    }

    #[test]
    fn many_n_match_simple_sieve() {
        let pool = pool(2);
        // A fixed pseudo-random walk over n up to 3·10^7 (xorshift, no extra crate).
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..60 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = state % 30_000_000;
            assert_eq!(sum_of_primes_on(n, Some(&pool)), simple_sum(n), "n = {n}");
        }
    }

    #[test]
    fn the_fastest_variant_agrees_with_the_portable_one() {
        // On a CPU with POPCNT and AVX2 the two are different machine code.
        for n in [100_000u64, 2_000_000, 3 * SEGMENT_SPAN + 12_345] {
            let crossing = crossing_primes_up_to(isqrt(n - 1));
            let segments = n.div_ceil(SEGMENT_SPAN);
            let (mut a, mut b) = (vec![0u8; SEGMENT_BYTES], vec![0u8; SEGMENT_BYTES]);
            for (from, to) in [(0, segments), (segments / 2, segments)] {
                let share = Share {
                    n,
                    primes: &crossing,
                    first: from,
                    end: to,
                    deadline: &Deadline::never(),
                };
                assert_eq!(
                    sieve_segments(&mut a, &share),
                    sieve_segments_fastest(&mut b, &share),
                    "n = {n}, segments {from}..{to}"
                );
            }
        }
    }

    #[test]
    fn the_small_root_table_holds_the_crossing_primes() {
        let table = crossing_primes_up_to_small_roots();
        assert_eq!(table, crossing_primes_up_to(SMALL_ROOTS));
        assert_eq!(table.first(), Some(&173)); // the first prime above the pre-sieved
        assert!(table
            .iter()
            .all(|&p| (3..p).take_while(|d| d * d <= p).all(|d| p % d != 0)));
    }

    #[test]
    fn lucy_reference_agrees_with_simple_sieve() {
        for n in [
            0u64, 1, 2, 3, 4, 5, 10, 100, 1000, 12_345, 999_983, 1_000_000,
        ] {
            assert_eq!(lucy_sum(n), simple_sum(n), "n = {n}");
        }
    }

    #[test]
    fn beyond_u64_matches_lucy() {
        // The sum passes 2^64 near n = 3·10^10; check just past it and at 10^11.
        let pool = pool(2);
        for n in [30_000_000_000u64, 100_000_000_000] {
            let got = sum_of_primes_on(n, Some(&pool));
            assert!(got > u128::from(u64::MAX), "n = {n} should exceed 2^64");
            assert_eq!(got, lucy_sum(n), "n = {n}");
        }
    }

    #[test]
    fn serial_and_parallel_agree() {
        let pool = pool(4);
        for n in [4_194_304u64, 10_000_019, 123_456_789] {
            assert_eq!(
                sum_of_primes(n),
                sum_of_primes_on(n, Some(&pool)),
                "n = {n}"
            );
        }
    }

    #[test]
    fn isqrt_is_exact() {
        let cases = [
            0u64,
            1,
            2,
            3,
            4,
            15,
            16,
            17,
            u32::MAX.into(),
            MAX_N,
            MAX_N - 1,
            u64::MAX,
        ];
        for x in cases {
            let r = isqrt(x);
            let next = u128::from(r + 1) * u128::from(r + 1);
            assert!(r * r <= x && next > u128::from(x), "x = {x}");
        }
    }

    #[test]
    fn stops_at_its_deadline_and_the_pool_keeps_working() {
        use std::time::{Duration, Instant};
        let pool = pool(2);
        let started = Instant::now();
        let deadline = Deadline::after(Duration::from_millis(10));
        assert_eq!(
            sum_of_primes_until(MAX_N, Some(&pool), &deadline),
            Err(Cancelled)
        );
        assert_eq!(sum_of_primes_until(MAX_N, None, &deadline), Err(Cancelled));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(sum_of_primes_on(100, Some(&pool)), 1060);
    }

    #[test]
    #[should_panic(expected = "exceeds MAX_N")]
    fn rejects_n_above_max() {
        let _ = sum_of_primes(MAX_N + 1);
    }
}
