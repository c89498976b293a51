//! Sum of the primes below `n` by a segmented sieve of Eratosthenes.
//!
//! Plain Rust with no PyO3 in it, so `cargo test` exercises it directly and the
//! binding stays a thin layer of argument checks and GIL handling.
//!
//! Layout: one bit per odd number (bit `i` stands for `2i + 1`), a set bit meaning
//! "composite". The bit array is processed in segments of one L1 data cache, so
//! memory stays O(√n): the base primes up to √n, one crossing-off offset per base
//! prime for each worker, and one segment buffer per worker. Multiples of 3, 5, 7,
//! 11 and 13 are not crossed off one by one: a precomputed pattern with their
//! period is copied into each segment (pre-sieving), which removes about 40% of the
//! crossing-off work. Segments are independent once a worker knows where each base
//! prime's next multiple falls, so contiguous runs of segments go to rayon workers.

use rayon::prelude::*;
use rayon::ThreadPool;
use std::sync::OnceLock;

/// Largest `n` accepted. Far beyond what finishes in reasonable time; it bounds the
/// base-prime table (√n bytes, 32 MiB at the limit) and keeps every partial sum
/// comfortably inside `u128`.
pub const MAX_N: u64 = 1 << 50;

/// 64-bit words per segment: 32 KiB, the L1 data cache of current x86 and ARM cores.
const SEGMENT_WORDS: usize = 4096;
const SEGMENT_BITS: u64 = SEGMENT_WORDS as u64 * 64;

/// Primes removed by copying a pattern instead of crossing off.
const PRESIEVE_PRIMES: [u64; 5] = [3, 5, 7, 11, 13];
/// The pattern's period is 3·5·7·11·13 = 15015 bits; 15015 whole words hold 64 periods,
/// so a segment that starts on a word boundary copies whole words from it.
const PRESIEVE_WORDS: usize = 15015;
const LARGEST_PRESIEVED: u64 = 13;

/// Runs shorter than this many segments are not worth handing to other threads.
const PARALLEL_MIN_SEGMENTS: u64 = 4;
/// Work items per pool thread: more items than threads evens out uneven progress.
const CHUNKS_PER_THREAD: u64 = 8;

/// Sum of all primes `p < n`, on the calling thread.
pub fn sum_of_primes(n: u64) -> u128 {
    sum_of_primes_on(n, None)
}

/// Sum of all primes `p < n`, spreading segments over `pool` when `n` is large enough.
///
/// `pool = None` runs everything on the calling thread.
///
/// # Panics
/// If `n > MAX_N`; callers check the bound and report it as a user error.
pub fn sum_of_primes_on(n: u64, pool: Option<&ThreadPool>) -> u128 {
    assert!(n <= MAX_N, "n = {n} exceeds MAX_N = {MAX_N}");
    if n <= 2 {
        return 0;
    }
    let bits = n / 2; // odd numbers 1, 3, …, below n
    let base = odd_primes_up_to(isqrt(n - 1));
    let crossing: Vec<u32> = base
        .iter()
        .copied()
        .filter(|&p| u64::from(p) > LARGEST_PRESIEVED)
        .collect();
    let segments = bits.div_ceil(SEGMENT_BITS);
    let run = |from: u64, to: u64| sum_segments(bits, &crossing, from, to);

    let odd_sum = match pool {
        Some(pool) if segments >= PARALLEL_MIN_SEGMENTS && pool.current_num_threads() > 1 => {
            let chunks = (pool.current_num_threads() as u64 * CHUNKS_PER_THREAD).min(segments);
            pool.install(|| {
                (0..chunks)
                    .into_par_iter()
                    .map(|c| run(segments * c / chunks, segments * (c + 1) / chunks))
                    .sum::<u128>()
            })
        }
        _ => run(0, segments),
    };
    odd_sum + 2
}

/// Integer square root: the largest `r` with `r * r <= x`.
pub fn isqrt(x: u64) -> u64 {
    let mut r = (x as f64).sqrt() as u64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

/// Odd primes `p <= limit`, by a plain sieve over odd numbers (`limit` is at most √MAX_N).
fn odd_primes_up_to(limit: u64) -> Vec<u32> {
    if limit < 3 {
        return Vec::new();
    }
    let len = (limit as usize - 1) / 2; // index i stands for 2i + 3
    let mut composite = vec![false; len];
    let mut i = 0;
    while i < len {
        let p = 2 * i + 3;
        if p * p > limit as usize {
            break;
        }
        if !composite[i] {
            let mut j = (p * p - 3) / 2;
            while j < len {
                composite[j] = true;
                j += p;
            }
        }
        i += 1;
    }
    composite
        .iter()
        .enumerate()
        .filter(|(_, &c)| !c)
        .map(|(i, _)| (2 * i + 3) as u32)
        .collect()
}

/// The pre-sieve pattern: bit `g` (mod 64·15015) set when `2g + 1` is a multiple of
/// one of `PRESIEVE_PRIMES`. Built once per process, shared read-only by all threads.
fn presieve_pattern() -> &'static [u64] {
    static PATTERN: OnceLock<Vec<u64>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut words = vec![0u64; PRESIEVE_WORDS];
        let bits = PRESIEVE_WORDS as u64 * 64;
        for p in PRESIEVE_PRIMES {
            let mut g = (p - 1) / 2;
            while g < bits {
                words[(g / 64) as usize] |= 1 << (g % 64);
                g += p;
            }
        }
        words
    })
}

/// First bit index `>= from` whose odd number is a multiple of `p` to cross off
/// (multiples below `p²` have a smaller prime factor and are already marked).
fn first_multiple(p: u64, from: u64) -> u64 {
    let square = p * p / 2;
    if square >= from {
        return square;
    }
    let residue = (p - 1) / 2; // 2i + 1 ≡ 0 (mod p)  ⇔  i ≡ (p - 1) / 2 (mod p)
    from + (residue + p - from % p) % p
}

/// Sum of the odd primes whose bits lie in segments `[first, end)` of a `bits`-bit array.
fn sum_segments(bits: u64, primes: &[u32], first: u64, end: u64) -> u128 {
    if first >= end {
        return 0;
    }
    let pattern = presieve_pattern();
    let start = first * SEGMENT_BITS;
    let mut next: Vec<u64> = primes
        .iter()
        .map(|&p| first_multiple(u64::from(p), start))
        .collect();
    let mut buffer = vec![0u64; SEGMENT_WORDS];
    let mut total = 0u128;
    for segment in first..end {
        let lo = segment * SEGMENT_BITS;
        let hi = (lo + SEGMENT_BITS).min(bits);
        let len = hi - lo;
        let words = &mut buffer[..len.div_ceil(64) as usize];

        copy_pattern(words, lo / 64, pattern);
        if lo == 0 {
            words[0] |= 1; // 1 is not prime
            for p in PRESIEVE_PRIMES {
                words[0] &= !(1 << ((p - 1) / 2)); // …but the pre-sieved primes are
            }
        }
        for (&p, next) in primes.iter().zip(next.iter_mut()) {
            let p = u64::from(p);
            let mut j = *next - lo;
            while j < len {
                words[(j / 64) as usize] |= 1 << (j % 64);
                j += p;
            }
            *next = lo + j;
        }
        if len % 64 != 0 {
            *words.last_mut().expect("segment is never empty") |= u64::MAX << (len % 64);
        }
        total += sum_unmarked(words, lo);
    }
    total
}

/// Fills `words` with the pre-sieve pattern as it stands at global word `first_word`.
fn copy_pattern(words: &mut [u64], first_word: u64, pattern: &[u64]) {
    let mut at = (first_word % PRESIEVE_WORDS as u64) as usize;
    let mut filled = 0;
    while filled < words.len() {
        let take = (words.len() - filled).min(pattern.len() - at);
        words[filled..filled + take].copy_from_slice(&pattern[at..at + take]);
        filled += take;
        at = 0;
    }
}

/// Sum of the odd numbers `2i + 1` over the clear bits `i` of a segment starting at bit `lo`.
fn sum_unmarked(words: &[u64], lo: u64) -> u128 {
    let mut count = 0u64;
    let mut offsets = 0u64; // Σ (i - lo): at most SEGMENT_BITS², fits easily
    for (w, &word) in words.iter().enumerate() {
        let mut primes = !word;
        let base = w as u64 * 64;
        while primes != 0 {
            offsets += base + u64::from(primes.trailing_zeros());
            count += 1;
            primes &= primes - 1;
        }
    }
    // Σ (2i + 1) = 2·lo·count + 2·Σ(i - lo) + count
    2 * u128::from(lo) * u128::from(count) + 2 * u128::from(offsets) + u128::from(count)
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
        let span = 2 * SEGMENT_BITS; // numbers covered by one segment
        let mut cases = vec![];
        for k in [1u64, 2, 3, 5, 8] {
            for d in [0u64, 1, 2, 3, 63, 64, 65, 127, 128, 129] {
                cases.push(k * span + d);
                cases.push(k * span - d);
            }
        }
        for n in 120..200 {
            cases.push(n); // around 13² = 169, the first crossed-off square
        }
        // The pre-sieve pattern wraps every 64·15015 bits.
        let wrap = 2 * 64 * PRESIEVE_WORDS as u64;
        cases.extend([wrap - 1, wrap, wrap + 1, 3 * wrap + 7]);
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
        for x in [
            0u64,
            1,
            2,
            3,
            4,
            15,
            16,
            17,
            u32::MAX as u64,
            MAX_N,
            MAX_N - 1,
        ] {
            let r = isqrt(x);
            assert!(r * r <= x && (r + 1) * (r + 1) > x, "x = {x}");
        }
    }

    #[test]
    #[should_panic(expected = "exceeds MAX_N")]
    fn rejects_n_above_max() {
        sum_of_primes(MAX_N + 1);
    }
}
