//! Sum of the primes below `n` by a segmented sieve of Eratosthenes on a mod-30 wheel.
//!
//! Plain Rust with no PyO3 in it, so `cargo test` exercises it directly and the
//! binding stays a thin layer of argument checks and GIL handling.
//!
//! Layout: every number coprime to 30 is `30k + r` for one of the eight residues
//! `r` in [`RESIDUES`]; each residue class gets its own bit array indexed by `k`, a
//! set bit meaning "composite". Only 8 of every 30 numbers are stored, and a prime
//! `p` crosses off its multiples in each class with stride `p` in `k`, so crossing
//! off does 8/30 of the work of a plain sieve (and about half that of an odd-only
//! one). The arrays are processed in segments that together fit in a core's L2 cache,
//! so memory stays O(√n): the base primes up to √n plus, per worker, one segment and
//! eight offsets per base prime. Multiples of 7 … 53 are not crossed off one by one:
//! precomputed patterns with their periods are copied into each segment
//! (pre-sieving). Sums are taken a 64-bit word at a time with population counts.
//! Segments are independent once a worker knows where each base prime's next
//! multiple falls, so contiguous runs of segments go to rayon workers.

use rayon::prelude::*;
use rayon::ThreadPool;
use std::sync::OnceLock;

use crate::cancel::{Cancelled, Deadline};

/// Largest `n` accepted. Far beyond what finishes in reasonable time; it bounds the
/// base-prime table and keeps every partial sum comfortably inside `u128`.
pub const MAX_N: u64 = 1 << 50;

/// Residues mod 30 of the numbers coprime to 30: one bit array each.
const RESIDUES: [u64; 8] = [1, 7, 11, 13, 17, 19, 23, 29];
/// 64-bit words per residue class in a segment: 8 × 2048 × 8 B = 128 KiB. Measured: an
/// L1-sized segment (32 KiB) loses at n ≥ 10^10, where most base primes exceed a
/// segment and their per-segment bookkeeping dominates; an L2-sized one does not.
const WORDS_PER_CLASS: usize = 2048;
const BITS_PER_CLASS: u64 = WORDS_PER_CLASS as u64 * 64;
/// Numbers covered by one segment.
const SEGMENT_SPAN: u64 = 30 * BITS_PER_CLASS;

/// Primes removed by pre-sieving, in groups whose pattern (product × 8 words) stays small.
/// Measured at n = 10^9: adding 47 and 53 saved 12% of the time; 59 and 61 another 2%
/// for 230 KiB more table, not worth it.
const PRESIEVE_GROUPS: [&[u64]; 6] = [
    &[7, 11, 13],
    &[17, 19],
    &[23, 29],
    &[31, 37],
    &[41, 43],
    &[47, 53],
];
const LARGEST_PRESIEVED: u64 = 53;

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
    let crossing: Vec<u32> = odd_primes_up_to(isqrt(n - 1))
        .into_iter()
        .filter(|&p| u64::from(p) > LARGEST_PRESIEVED)
        .collect();
    let segments = n.div_ceil(SEGMENT_SPAN);
    let run = |from: u64, to: u64| sum_segments(n, &crossing, from, to, deadline);

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
fn isqrt(x: u64) -> u64 {
    let mut r = ((x as f64).sqrt() as u64).min(u64::from(u32::MAX));
    while r * r > x {
        r -= 1;
    }
    while (r + 1).checked_mul(r + 1).is_some_and(|square| square <= x) {
        r += 1;
    }
    r
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

/// A pre-sieve pattern: for each residue class, `period` words in which bit `k` is set
/// when `30k + r` is a multiple of one of the group's primes. `period` is the product
/// of the primes, so `period` words hold 64 whole periods and a segment starting on a
/// word boundary copies whole words.
struct Pattern {
    period: usize,
    words: Vec<u64>, // class-major: class c occupies [c * period, (c + 1) * period)
}

fn presieve_patterns() -> &'static [Pattern] {
    static PATTERNS: OnceLock<Vec<Pattern>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        PRESIEVE_GROUPS
            .iter()
            .map(|group| {
                let period = group.iter().product::<u64>() as usize;
                let mut words = vec![0u64; 8 * period];
                let bits = period as u64 * 64;
                for (c, &r) in RESIDUES.iter().enumerate() {
                    let class = &mut words[c * period..(c + 1) * period];
                    for &p in *group {
                        let mut k = (0..p)
                            .find(|k| (30 * k + r) % p == 0)
                            .expect("p is coprime to 30");
                        while k < bits {
                            class[(k / 64) as usize] |= 1 << (k % 64);
                            k += p;
                        }
                    }
                }
                Pattern { period, words }
            })
            .collect()
    })
}

/// Writes the pre-sieve patterns for the segment whose classes start at bit `k_lo`.
fn presieve(buffer: &mut [u64], k_lo: u64, words: usize, patterns: &[Pattern]) {
    for (c, class) in buffer.chunks_exact_mut(WORDS_PER_CLASS).enumerate() {
        let class = &mut class[..words];
        for (g, pattern) in patterns.iter().enumerate() {
            let source = &pattern.words[c * pattern.period..(c + 1) * pattern.period];
            let mut at = ((k_lo / 64) % pattern.period as u64) as usize;
            let mut filled = 0;
            while filled < class.len() {
                let take = (class.len() - filled).min(pattern.period - at);
                let (dst, src) = (&mut class[filled..filled + take], &source[at..at + take]);
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
}

/// Multiplicative inverses mod 30 of the residues (0 where none exists).
const INVERSE_MOD_30: [u64; 30] = {
    let mut inv = [0u64; 30];
    let mut a = 1;
    while a < 30 {
        let mut b = 1;
        while b < 30 {
            if a * b % 30 == 1 {
                inv[a as usize] = b;
            }
            b += 1;
        }
        a += 1;
    }
    inv
};

/// For prime `p`, the first bit of each class at or after `k_lo` that is a multiple of
/// `p` to cross off, relative to `k_lo`. Multiples below `p²` have a smaller prime factor
/// and are marked already; the caller only asks once `p²` is near (so offsets fit u32).
fn first_offsets(p: u64, k_lo: u64) -> [u32; 8] {
    let inverse = INVERSE_MOD_30[(p % 30) as usize];
    let q_min = p.max((30 * k_lo).div_ceil(p));
    let mut offsets = [0u32; 8];
    for (offset, &r) in offsets.iter_mut().zip(&RESIDUES) {
        // p·q ≡ r (mod 30)  ⇔  q ≡ r·p⁻¹ (mod 30)
        let q_residue = r * inverse % 30;
        let q = q_min + (q_residue + 30 - q_min % 30) % 30;
        let k = (p * q - r) / 30;
        *offset = u32::try_from(k - k_lo).expect("offset of an active prime fits u32");
    }
    offsets
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
    buffer.resize(8 * WORDS_PER_CLASS, 0);
    let total = sieve_segments(&mut buffer, n, primes, first, end, deadline);
    SEGMENT_BUFFER.with(|cell| *cell.borrow_mut() = buffer);
    total
}

thread_local! {
    /// Each thread's segment buffer, kept between calls: zeroing a fresh 128 KiB
    /// buffer on every call (a memset callgrind showed on each one) is a large share
    /// of sieving a small `n`. [`presieve`] overwrites every word a segment then reads, so what a
    /// previous call left there never matters.
    static SEGMENT_BUFFER: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`sum_segments`] in `buffer` (one segment: 8 classes of `WORDS_PER_CLASS` words).
fn sieve_segments(
    buffer: &mut [u64],
    n: u64,
    primes: &[u32],
    first: u64,
    end: u64,
    deadline: &Deadline,
) -> Result<u128, Cancelled> {
    let patterns = presieve_patterns();
    // Offsets of the base primes whose square has been reached; the rest wait.
    let mut next: Vec<[u32; 8]> = Vec::new();
    let mut total = 0u128;
    for segment in first..end {
        deadline.check()?; // a segment is about a millisecond of work
        let k_lo = segment * BITS_PER_CLASS;
        let lo = segment * SEGMENT_SPAN;
        let hi = (lo + SEGMENT_SPAN).min(n);
        // Bits of each class this segment needs: all of them except in the last
        // segment, where sieving the unused tail would dominate small n.
        let bits = (hi - lo).div_ceil(30).min(BITS_PER_CLASS) as usize;

        presieve(buffer, k_lo, bits.div_ceil(64), patterns);
        if segment == 0 {
            buffer[0] |= 1; // 1 is not prime…
            for group in PRESIEVE_GROUPS {
                for &p in group {
                    let c = RESIDUES
                        .iter()
                        .position(|&r| r == p % 30)
                        .expect("p is coprime to 30");
                    let k = p / 30;
                    buffer[c * WORDS_PER_CLASS] &= !(1 << k); // …but the pre-sieved primes are
                }
            }
        }
        while next.len() < primes.len() && u64::from(primes[next.len()]).pow(2) < hi {
            next.push(first_offsets(u64::from(primes[next.len()]), k_lo));
        }
        for (&p, offsets) in primes.iter().zip(next.iter_mut()) {
            for (class, offset) in buffer
                .chunks_exact_mut(WORDS_PER_CLASS)
                .zip(offsets.iter_mut())
            {
                let class: &mut Class = class.try_into().expect("chunks are one class long");
                *offset = cross_off(class, *offset as usize, p as usize, bits);
            }
        }
        total += sum_segment(buffer, k_lo, hi - lo);
    }
    Ok(total)
}

type Class = [u64; WORDS_PER_CLASS];

/// Marks bits `j, j + p, j + 2p, … < bits` of one class; returns the next offset,
/// relative to the following segment (meaningless after a short, last segment). A
/// fixed-size array lets the compiler drop the bounds checks.
#[inline(always)]
fn cross_off(class: &mut Class, mut j: usize, p: usize, bits: usize) -> u32 {
    const BITS: usize = BITS_PER_CLASS as usize;
    let bits = bits.min(BITS);
    // Four marks per iteration while they surely fit: fewer loop-carried branches.
    while j + 3 * p < bits {
        class[j / 64] |= 1 << (j % 64);
        class[(j + p) / 64] |= 1 << ((j + p) % 64);
        class[(j + 2 * p) / 64] |= 1 << ((j + 2 * p) % 64);
        class[(j + 3 * p) / 64] |= 1 << ((j + 3 * p) % 64);
        j += 4 * p;
    }
    while j < bits {
        class[j / 64] |= 1 << (j % 64);
        j += p;
    }
    j.saturating_sub(BITS) as u32
}

/// Sum of `30(k_lo + k) + r` over the clear bits of a segment covering `span` numbers.
fn sum_segment(buffer: &mut [u64], k_lo: u64, span: u64) -> u128 {
    let mut total = 0u128;
    for (class, &r) in buffer.chunks_exact_mut(WORDS_PER_CLASS).zip(&RESIDUES) {
        // bits k with 30k + r < span belong to the range
        let len = if span > r { (span - r).div_ceil(30) } else { 0 };
        if len == 0 {
            continue;
        }
        let words = &mut class[..len.div_ceil(64) as usize];
        if len % 64 != 0 {
            *words.last_mut().expect("len > 0") |= u64::MAX << (len % 64);
        }
        let (count, k_sum) = tally(words);
        total += 30 * (u128::from(k_lo) * u128::from(count) + u128::from(k_sum))
            + u128::from(r) * u128::from(count);
    }
    total
}

/// Count of clear bits and the sum of their indices, with the fastest population count
/// this CPU has (baseline x86-64 lacks the POPCNT instruction, so check at run time).
fn tally(words: &[u64]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports POPCNT, checked just above.
        #[allow(unsafe_code)]
        return unsafe { tally_popcnt(words) };
    }
    tally_portable(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
#[allow(unsafe_code)] // only to enable POPCNT; the body is safe code
unsafe fn tally_popcnt(words: &[u64]) -> (u64, u64) {
    tally_portable(words)
}

#[inline(always)]
fn tally_portable(words: &[u64]) -> (u64, u64) {
    // Bit j of a word contributes j = Σ 2^b over the set bits b of j: count the clear
    // bits at positions whose bit b is 1, for each b, instead of visiting every prime.
    const POSITION_BITS: [u64; 6] = [
        0xAAAA_AAAA_AAAA_AAAA,
        0xCCCC_CCCC_CCCC_CCCC,
        0xF0F0_F0F0_F0F0_F0F0,
        0xFF00_FF00_FF00_FF00,
        0xFFFF_0000_FFFF_0000,
        0xFFFF_FFFF_0000_0000,
    ];
    let mut count = 0u64;
    let mut index_sum = 0u64; // at most BITS_PER_CLASS² / 2: fits easily
    for (w, &word) in words.iter().enumerate() {
        let primes = !word;
        let c = u64::from(primes.count_ones());
        let mut within = 0u64;
        for (b, mask) in POSITION_BITS.iter().enumerate() {
            within += u64::from((primes & mask).count_ones()) << b;
        }
        count += c;
        index_sum += 64 * w as u64 * c + within;
    }
    (count, index_sum)
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
        const TOP: u64 = 20_000;
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
            cases.push(n); // the wheel primes 2, 3, 5 and the pre-sieved primes up to 43
        }
        // Each pre-sieve pattern wraps every 64·period bits of a class.
        for group in PRESIEVE_GROUPS {
            let wrap = 30 * 64 * group.iter().product::<u64>();
            cases.extend([wrap - 1, wrap, wrap + 1, 3 * wrap + 7]);
        }
        for p in 2..60 {
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
