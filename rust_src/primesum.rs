//! Sum of the primes below `n` in about O(n^(2/3)) time and O(n^(1/3)) memory.
//!
//! Plain Rust with no PyO3 in it. The method is Lagarias–Miller–Odlyzko's prime count
//! with every number weighted by itself, plus Deléglise–Rivat's shortcut for the
//! "easy" special leaves. With `x = n − 1`, `y = α·∛x` (`y³ > x`), `a = π(y)`,
//! `z = ⌊x/y⌋` and `φ(t, b)` the sum of the integers in `[1, t]` with no prime factor
//! among the first `b` primes (1 included):
//!
//! ```text
//! S(x) = φ(x, a) − 1 + S(y) − P2(x, a)
//! P2(x, a) = Σ_{y < p ≤ √x} p · (S(x/p) − S(p − 1))      products of two primes > y
//! φ(x, a) = S1 + S2
//! S1 = Σ_{m ≤ y, squarefree, lpf(m) > p_c} μ(m) · m · φ(x/m, c)        ordinary leaves
//! S2 = Σ_{c < b < a} Σ_{m' ≤ y < m'·p_b, lpf(m') > p_b} −μ(m') · m'·p_b · φ(x/(m'·p_b), b − 1)
//! ```
//!
//! `φ(t, c)` for the first `c` primes comes from a wheel table. A special leaf
//! `m'·p_b` with `t = x/(m'·p_b) < min(y, p_b²)` is "easy": the only numbers counted
//! are 1 and the primes in `[p_b, t]`, read from a table of prime sums up to `y`, and
//! runs of leaves that share `π(t)` are summed at once, one run per `π(t)`. The
//! remaining "hard" leaves read `φ(t, b − 1)` from a segmented sieve of `[1, z]` that
//! removes the multiples of `p_b` one `b` at a time, with per-block counters so a query
//! costs a few words. `P2` needs `S(t)` for `t ≤ z`: a second segmented sieve walks `t`
//! upwards while the primes `p` are generated downwards.
//!
//! Both sieves keep odd numbers only, start each segment from a copied pattern without
//! the multiples of 3 … 13, and step each larger prime over a mod-30 wheel. Queries
//! weigh words by population counts, with POPCNT where the CPU has it.
//!
//! Parallel on rayon: the hard-leaf sieve and `P2` split their ranges into chunks that
//! start from zero and are corrected in order afterwards; the easy leaves split by `b`.
//!
//! # Overflow bounds (x < 10^18, so `y ≤ 12·10^6` with α ≤ 12, and `z ≤ 10^12`)
//! - the answer and any `φ(t, ·) ≤ t(t+1)/2 ≤ 5·10^35 < 2^128` (u128);
//! - `S1`, `S2` are sums of terms `±m·φ(x/m, ·) ≤ x²/(2m)`; over the leaves
//!   `Σ 1/m ≤ (1 + ln y)·(ln ln y + 1) < 70`, so every partial sum stays below
//!   `70 · 5·10^35 < 4·10^37 < 2^127` (i128); so do the per-chunk corrections, each a
//!   part of that sum;
//! - a hard leaf's factor `m'·p_b ≤ y² ≤ x < 2^63` and its in-segment sum `< 2^57`, so
//!   their product is below `2^120`; prime sums up to `y` are below `y² < 2^48` (u64);
//! - `P2 ≤ Σ_p p·S(x/p) ≤ x²·Σ 1/p < 2^127` (u128); quotients use `f64` only below
//!   `2^53`, where the double is exact, and correct the rounding by one.
//! - sieve counters pack `count << 40 | Σ index` per segment: at most `2^17` bits of
//!   index `< 2^17`, so the index sum stays below `2^33` and the count below `2^18`.

use crate::cancel::{Cancelled, Deadline};
use crate::sieve::{isqrt, GAPS, RESIDUES};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Largest `n` accepted: the sums and the bounds above hold up to here.
pub const MAX_N: u64 = 1_000_000_000_000_000_000;

/// Below this `x` a plain sieve is faster than setting up the tables.
const SMALL_X: u64 = 10_000;

/// Odd numbers per sieve segment (a 16 KiB bit array: fits L1 with its counters).
const SEG_BITS: usize = 1 << 17;
const SEG_WORDS: usize = SEG_BITS / 64;
/// Numbers spanned by one segment.
const SEG_SPAN: u64 = 2 * SEG_BITS as u64;
/// Bits per counter block of the hard-leaf sieve.
const BLOCK_BITS: usize = 512;
const BLOCK_WORDS: usize = BLOCK_BITS / 64;
/// `count << COUNT_SHIFT | index_sum` packs both into one counter.
const COUNT_SHIFT: u32 = 40;
const ONE: u64 = 1 << COUNT_SHIFT;
const INDEX_MASK: u64 = ONE - 1;
/// Primes removed by the wheel of the ordinary leaves: 2·3·5·7·11·13 = 30030.
const WHEEL_PRIMES: usize = 6;
// The hard-leaf sieve steps over the multiples of 3 and 5: the wheel must remove them.
const _: () = assert!(WHEEL_PRIMES >= 3);
/// Chunks handed to rayon per thread, per wave of the hard-leaf sieve.
const CHUNKS_PER_THREAD: usize = 16;

/// Sum of all primes `p < n`, on the calling thread.
///
/// # Panics
/// If `n > MAX_N`.
#[must_use]
pub fn sum_of_primes(n: u64) -> u128 {
    sum_of_primes_on(n, None, &Deadline::never()).expect("a deadline that never expires")
}

/// Sum of all primes `p < n`, on `pool` when given (`None`: the calling thread).
///
/// # Errors
/// [`Cancelled`] once `deadline` expires; it is checked between chunks of work.
///
/// # Panics
/// If `n > MAX_N`; callers check the bound and report it as a user error.
pub fn sum_of_primes_on(
    n: u64,
    pool: Option<&ThreadPool>,
    deadline: &Deadline,
) -> Result<u128, Cancelled> {
    assert!(n <= MAX_N, "n = {n} exceeds MAX_N = {MAX_N}");
    if n < 3 {
        return Ok(0);
    }
    let x = n - 1;
    if x < SMALL_X {
        return Ok(simple_sum(x));
    }
    Lmo::new(x, alpha(x)).run(pool, deadline)
}

/// `y = α·∛x`: a larger α moves work from the sieve of `[1, x/y]` to the leaves.
/// Tuned with `tune_alpha` (one thread, wall time, two runs each, alternating): at
/// 10^13 the time was flat for α in 5…13 (0.20–0.23 s); at 10^15, α = 7, 11.35, 16
/// and 22 took 3.25–3.34, 3.04–3.15, 3.23–3.25 and 3.60–3.87 s.
fn alpha(x: u64) -> f64 {
    let digits = (x as f64).log10();
    (1.0 + (digits - 6.0).max(0.0) * 1.15).min(12.0)
}

/// Sum of the primes `p <= x` by a plain sieve (small `x` only).
fn simple_sum(x: u64) -> u128 {
    let x = x as usize;
    let mut composite = vec![false; x + 1];
    let mut total = 0u128;
    for i in 2..=x {
        if !composite[i] {
            total += i as u128;
            let mut j = i * i;
            while j <= x {
                composite[j] = true;
                j += i;
            }
        }
    }
    total
}

/// Integer cube root: the largest `r` with `r³ <= x`.
fn icbrt(x: u64) -> u64 {
    let cube = |r: u64| r.checked_mul(r).and_then(|s| s.checked_mul(r));
    let mut r = (x as f64).cbrt() as u64;
    while cube(r).is_none_or(|c| c > x) {
        r -= 1;
    }
    while cube(r + 1).is_some_and(|c| c <= x) {
        r += 1;
    }
    r
}

/// `⌊n / d⌋` (`d > 0`) through a double-precision quotient corrected by at most
/// one, where `n` is exact as a double; integer division is several times slower.
#[allow(clippy::inline_always)] // inlined into the POPCNT variant of hard_chunk
#[inline(always)]
fn quotient(n: u64, d: u64) -> u64 {
    if n >= 1 << 53 {
        return n / d;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let mut q = (n as f64 / d as f64) as u64;
    if q * d > n {
        q -= 1;
    } else if (q + 1) * d <= n {
        q += 1;
    }
    q
}

/// Runs `f(0..count)` on `pool` (or here) and returns the results in order; stops
/// early once any call is cancelled.
fn run_chunks<T: Send>(
    pool: Option<&ThreadPool>,
    count: usize,
    f: impl Fn(usize) -> Result<T, Cancelled> + Sync,
) -> Result<Vec<T>, Cancelled> {
    match pool {
        Some(pool) if pool.current_num_threads() > 1 && count > 1 => {
            pool.install(|| (0..count).into_par_iter().map(&f).collect())
        }
        _ => (0..count).map(f).collect(),
    }
}

fn threads(pool: Option<&ThreadPool>) -> usize {
    pool.map_or(1, ThreadPool::current_num_threads)
}

/// Sum of the `i` with bit `i` set in `word`, plus `64·w` per set bit: the index sum
/// of a word at index `w`. Packed with the count as `count << 40 | index_sum`.
#[inline(always)]
fn weigh(word: u64, w: usize) -> u64 {
    const POSITION_BITS: [u64; 6] = [
        0xAAAA_AAAA_AAAA_AAAA,
        0xCCCC_CCCC_CCCC_CCCC,
        0xF0F0_F0F0_F0F0_F0F0,
        0xFF00_FF00_FF00_FF00,
        0xFFFF_0000_FFFF_0000,
        0xFFFF_FFFF_0000_0000,
    ];
    let count = u64::from(word.count_ones());
    let mut within = 0u64;
    for (b, mask) in POSITION_BITS.iter().enumerate() {
        within += u64::from((word & mask).count_ones()) << b;
    }
    (count << COUNT_SHIFT) + 64 * w as u64 * count + within
}

/// Sum of the numbers `lo + 2i + 1` described by a packed `(count, Σ i)`.
#[inline]
fn unpack(packed: u64, lo: u64) -> u64 {
    (packed >> COUNT_SHIFT) * (lo + 1) + 2 * (packed & INDEX_MASK)
}

/// Marks the odd primes in `[lo, lo + 2·SEG_BITS)` that are `<= limit` (`lo` even):
/// bit `i` stands for `lo + 2i + 1`. `base` holds the odd primes up to `√limit`.
fn sieve_primes(bits: &mut [u64; SEG_WORDS], lo: u64, limit: u64, base: &[u32]) {
    PrimeSegments::new(base).sieve(bits, lo, limit);
}

/// A sieve of consecutive segments, upwards: [`OddPattern`] removes the multiples of
/// 3 … 13, and each larger base prime crosses off its multiples `p·k` (`k >= p`,
/// coprime to 30), carrying its next one from segment to segment.
struct PrimeSegments<'a> {
    /// The odd primes up to at least `√limit` (those below 17 are ignored).
    base: &'a [u32],
    /// The next multiple of `base[first + i]`, for the primes whose square was reached.
    next: Vec<Multiple>,
    first: usize,
    /// Where the next segment must start for `next` to be right.
    following: Option<u64>,
}

impl<'a> PrimeSegments<'a> {
    fn new(base: &'a [u32]) -> Self {
        let first = base.partition_point(|&p| p < 17);
        Self {
            base,
            next: Vec::new(),
            first,
            following: None,
        }
    }

    /// Marks the primes of the segment at `lo` that are `<= limit`. `lo` is even on the
    /// first call and the previous call's `lo + SEG_SPAN` after it: the carried
    /// multiples are only right for the segment that follows.
    ///
    /// # Panics
    /// If `lo` is not the segment after the previous one.
    fn sieve(&mut self, bits: &mut [u64; SEG_WORDS], lo: u64, limit: u64) {
        if let Some(following) = self.following {
            assert_eq!(lo, following, "segments must be consecutive");
        }
        self.following = Some(lo + SEG_SPAN);
        OddPattern::shared().copy_to(bits, lo / 2);
        if lo == 0 {
            bits[0] &= !1; // 1 is not prime
        }
        for &p in OddPattern::PRIMES {
            // the pattern's own primes are, wherever a segment starts below them
            if let Some(i) = u64::from(p).checked_sub(lo + 1) {
                bits[0] |= 1 << (i / 2);
            }
        }
        let top = limit.min(lo + SEG_SPAN - 1);
        let primes = &self.base[self.first..];
        while let Some(&p) = primes.get(self.next.len()) {
            let p = u64::from(p);
            if p * p > top {
                break;
            }
            self.next.push(Multiple::first_at(p, lo.max(p * p)));
        }
        for (&p, next) in primes.iter().zip(&mut self.next) {
            *next = next.cross_segment(u64::from(p), lo, |i| bits[i / 64] &= !(1 << (i % 64)));
        }
        let valid = if limit >= lo + SEG_SPAN {
            SEG_BITS
        } else if limit > lo {
            (limit - lo).div_ceil(2) as usize
        } else {
            0
        };
        clear_from(bits, valid);
    }
}

/// Clears bits `from..` of a segment.
fn clear_from(bits: &mut [u64], from: usize) {
    if from >= bits.len() * 64 {
        return;
    }
    let w = from / 64;
    bits[w] &= (1u64 << (from % 64)) - 1;
    bits[w + 1..].fill(0);
}

/// Defines a method that runs `$portable` compiled with POPCNT when the CPU has it
/// (baseline x86-64 lacks the instruction, and the leaves and P2 weigh words by
/// population counts). `$portable` and the functions it calls that count bits are
/// `#[inline(always)]` and use plain loops, so the target feature covers their bodies.
macro_rules! popcnt_variant {
    (
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $portable:ident
    ) => {
        $(#[$doc])*
        fn $name(&self, $($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("popcnt") {
                #[target_feature(enable = "popcnt")]
                #[allow(unsafe_code)] // only to enable POPCNT; the body is safe code
                unsafe fn with_popcnt(lmo: &Lmo, $($arg: $ty),*) -> $ret {
                    lmo.$portable($($arg),*)
                }
                // SAFETY: the CPU supports POPCNT, checked just above.
                #[allow(unsafe_code)]
                return unsafe { with_popcnt(self, $($arg),*) };
            }
            self.$portable($($arg),*)
        }
    };
}

/// The precomputed tables of one evaluation and its parameters.
struct Lmo {
    x: u64,
    y: u64,
    z: u64,
    /// `π(y)`.
    a: usize,
    /// Primes removed by the wheel (`φ(t, c)` is read from `wheel`).
    c: usize,
    /// `primes[b]` is the `b`-th prime (`primes[0] = 1`), up to `y`.
    primes: Vec<u32>,
    /// `pi[t] = π(t)` for `t <= y`.
    pi: Vec<u32>,
    /// `psum[k]` = sum of the first `k` primes.
    psum: Vec<u64>,
    /// For `m <= y`: 0 if `m` is not squarefree, else `min(lpf(m), 0x7FFF)` with bit 15
    /// set when `μ(m) = −1`. Capped lpf compares right against any `p < 0x7FFF`, and
    /// only primes up to `√y` are compared (`y < 2^30`).
    lpf_mu: Vec<u16>,
    /// The squarefree `m <= y` with no factor among the first `c` primes, ascending:
    /// the only candidates for the hard leaves' `m'`, a fifth of all `m`.
    sieved_m: Vec<u32>,
    wheel: WheelRef,
}

/// The usual 30030-wide wheel is built once per process; tiny `x` build their own.
enum WheelRef {
    Shared(&'static Wheel),
    Own(Wheel),
}

impl std::ops::Deref for WheelRef {
    type Target = Wheel;
    fn deref(&self) -> &Wheel {
        match self {
            Self::Shared(wheel) => wheel,
            Self::Own(wheel) => wheel,
        }
    }
}

const LPF_MASK: u16 = 0x7FFF;
const MU_NEGATIVE: u16 = 0x8000;

impl Lmo {
    fn new(x: u64, alpha: f64) -> Self {
        let cbrt = icbrt(x);
        let y = ((alpha * cbrt as f64) as u64).max(cbrt + 1).min(isqrt(x));
        let z = x / y;
        let (primes, pi, psum, lpf_mu) = tables(y);
        let a = primes.len() - 1;
        let c = WHEEL_PRIMES.min(a);
        // Special leaves (b > c) exist only when c = WHEEL_PRIMES (else c = a), and then
        // 3 and 5 are among the removed primes, as the hard-leaf sieve's mod-30 steps
        // need (a compile-time check stands beside WHEEL_PRIMES).
        let sieved_m = (1..=y as u32)
            .filter(|&m| {
                let e = lpf_mu[m as usize];
                e != 0 && e & LPF_MASK > u16::try_from(primes[c]).expect("a wheel prime")
            })
            .collect();
        let wheel = if c == WHEEL_PRIMES {
            WheelRef::Shared(Wheel::shared())
        } else {
            WheelRef::Own(Wheel::new(&primes[1..=c]))
        };
        Self {
            x,
            y,
            z,
            a,
            c,
            primes,
            pi,
            psum,
            lpf_mu,
            sieved_m,
            wheel,
        }
    }

    fn run(&self, pool: Option<&ThreadPool>, deadline: &Deadline) -> Result<u128, Cancelled> {
        deadline.check()?;
        let s1 = self.ordinary_leaves();
        let easy = self.easy_leaves(pool, deadline)?;
        let hard = self.hard_leaves(pool, deadline)?;
        let p2 = self.p2(pool, deadline)?;
        let phi = s1 + i128::try_from(easy).expect("bounded above") + hard;
        let phi = u128::try_from(phi).expect("φ(x, a) is a sum of positive numbers");
        Ok(phi - 1 + u128::from(self.psum[self.a]) - p2)
    }

    #[inline]
    fn prime_sum(&self, t: u64) -> u64 {
        self.psum[self.pi[t as usize] as usize]
    }

    /// `S1 = Σ μ(m)·m·φ(x/m, c)` over squarefree `m <= y` with no factor among the
    /// first `c` primes.
    fn ordinary_leaves(&self) -> i128 {
        let pc = u16::try_from(self.primes[self.c]).expect("a wheel prime");
        let mut total = 0i128;
        for m in 1..=self.y {
            let e = self.lpf_mu[m as usize];
            if e == 0 || e & LPF_MASK <= pc {
                continue;
            }
            let term = i128::try_from(u128::from(m) * self.wheel.phi(self.x / m))
                .expect("m·φ(x/m) <= x²/2m");
            if e & MU_NEGATIVE == 0 {
                total += term;
            } else {
                total -= term;
            }
        }
        total
    }

    /// The special leaves `q·p_b` (`q` prime) with `t = x/(q·p_b) < min(y, p_b²)`:
    /// `φ(t, b − 1) = 1 + S(t) − S(p_b − 1)`, and 1 when `t < p_b`.
    fn easy_leaves(
        &self,
        pool: Option<&ThreadPool>,
        deadline: &Deadline,
    ) -> Result<u128, Cancelled> {
        let first = self.c + 1;
        let count = self.a.saturating_sub(first);
        // The small b carry most of the leaves: deal the b out round-robin so every
        // chunk gets a share of them.
        let chunks = (threads(pool) * 32).min(count.max(1));
        let sums = run_chunks(pool, chunks, |k| {
            deadline.check()?;
            // Interleaved b balance the chunks; a small b alone can take seconds at
            // large n, so the clock is read per b.
            let mut sum = 0u128;
            for b in (first + k..first + count).step_by(chunks) {
                deadline.check()?;
                sum += self.easy_leaves_of(b);
            }
            Ok(sum)
        })?;
        Ok(sums.into_iter().sum())
    }

    fn easy_leaves_of(&self, b: usize) -> u128 {
        let (x, y, a) = (self.x, self.y, self.a);
        let p = u64::from(self.primes[b]);
        let lower = p.max(y / p);
        let first_q = self.pi[lower as usize] as usize + 1;
        let cap = y.min(p * p);
        let q_hard_max = x / (cap * p); // t >= cap  <=>  q <= q_hard_max
        let first_easy = first_q.max(self.pi[q_hard_max.min(y) as usize] as usize + 1);
        if first_easy > a {
            return 0;
        }
        // q > x/p² gives t < p: φ = 1, so those leaves weigh Σ q.
        let last_clustered = (self.pi[(x / (p * p)).min(y) as usize] as usize).max(first_easy - 1);
        let mut total = u128::from(self.psum[a] - self.psum[last_clustered]);
        let below = self.psum[b - 1];
        let xp = x / p;
        // Below √(x/p) consecutive q rarely share π(x/(p·q)): one quotient per leaf.
        let sparse_end = (self.pi[isqrt(xp).min(y) as usize] as usize).min(last_clustered);
        let mut i = first_easy;
        while i <= sparse_end {
            let q = u64::from(self.primes[i]);
            let phi = 1 + self.prime_sum(quotient(xp, q)) - below;
            total += u128::from(phi) * u128::from(q);
            i += 1;
        }
        if i > last_clustered {
            return total * u128::from(p);
        }
        // Above √(x/p) runs of q share k = π(x/(p·q)): the q of one k are those with
        // x/(p·p_{k+1}) < q <= x/(p·p_k). Walking k instead of q makes every step one
        // quotient that does not wait for the previous step's table reads.
        let (first, last) = (i - 1, last_clustered);
        // Index of the last clustered q <= x/(p·p_k), kept within [first, last].
        let upto = |k: usize| {
            let q_max = quotient(xp, u64::from(self.primes[k])).min(y);
            (self.pi[q_max as usize] as usize).clamp(first, last)
        };
        let k_bottom = self.pi[quotient(xp, u64::from(self.primes[last])) as usize] as usize;
        let k_top = self.pi[quotient(xp, u64::from(self.primes[i])) as usize] as usize;
        let mut q_top = last; // upto(k_bottom)
        for k in k_bottom..=k_top {
            let q_bottom = if k == k_top { first } else { upto(k + 1) };
            let phi = 1 + self.psum[k] - below;
            total += u128::from(phi) * u128::from(self.psum[q_top] - self.psum[q_bottom]);
            q_top = q_bottom;
        }
        total * u128::from(p)
    }

    /// [`Self::hard_t_max`] of every `b < a`.
    fn hard_t_maxes(&self) -> Vec<u64> {
        (0..self.a)
            .map(|b| if b > self.c { self.hard_t_max(b) } else { 0 })
            .collect()
    }

    /// Largest `t` of a hard leaf of `b`, or 0 if `b` has none.
    fn hard_t_max(&self, b: usize) -> u64 {
        let p = u64::from(self.primes[b]);
        if p * p <= self.y {
            return self.z;
        }
        let q_hard_max = (self.x / (self.y * p)).min(self.y);
        if b < self.a && u64::from(self.primes[b + 1]) <= q_hard_max {
            self.x / (p * u64::from(self.primes[b + 1]))
        } else {
            0
        }
    }

    /// The special leaves not handled by [`Self::easy_leaves`], by sieving `[1, z]`.
    fn hard_leaves(
        &self,
        pool: Option<&ThreadPool>,
        deadline: &Deadline,
    ) -> Result<i128, Cancelled> {
        let t_max = self.hard_t_maxes();
        let segments = (self.z + 1).div_ceil(SEG_SPAN) as usize;
        let threads = threads(pool);
        // One chunk on one thread. Otherwise one segment per chunk: the first segments
        // carry far more work than the last (more sieving primes, denser leaves), so
        // only neighbouring segments are alike enough to run side by side in a wave.
        // A chunk's own setup (offsets, per-b outputs) is ~1% of a segment's work.
        let per_chunk = if threads == 1 { segments } else { 1 };
        let chunks = segments.div_ceil(per_chunk);
        let wave = threads * CHUNKS_PER_THREAD;
        let mut total = 0i128;
        let mut phi_before: Vec<u128> = Vec::new();
        let mut start = 0;
        while start < chunks {
            let end = (start + wave).min(chunks);
            let outs = run_chunks(pool, end - start, |k| {
                let from = (start + k) * per_chunk;
                self.hard_chunk(from, (from + per_chunk).min(segments), &t_max, deadline)
            })?;
            for out in outs {
                total += out.s2;
                if phi_before.len() < out.phi.len() {
                    phi_before.resize(out.phi.len(), 0);
                }
                for (b, (&coefficient, &phi)) in out.coefficients.iter().zip(&out.phi).enumerate() {
                    let before = i128::try_from(phi_before[b]).expect("φ <= z²/2");
                    total += coefficient * before;
                    phi_before[b] += phi;
                }
            }
            start = end;
        }
        Ok(total)
    }

    popcnt_variant! {
        /// Segments `[from, to)` of the hard-leaf sieve, as if nothing came before them:
        /// returns `Σ coefficient·φ_local`, and per `b` the coefficients' sum and the
        /// sieve's total, so the caller adds `coefficients[b] · φ(before, b − 1)`.
        fn hard_chunk(from: usize, to: usize, t_max: &[u64], deadline: &Deadline)
            -> Result<ChunkOut, Cancelled> = hard_chunk_portable
    }

    #[allow(clippy::inline_always, clippy::needless_range_loop)] // b indexes primes, next and the outputs
    #[inline(always)]
    fn hard_chunk_portable(
        &self,
        from: usize,
        to: usize,
        t_max: &[u64],
        deadline: &Deadline,
    ) -> Result<ChunkOut, Cancelled> {
        let (x, y, z) = (self.x, self.y, self.z);
        // t_max is z up to π(√y), then x/(p_b·p_{b+1}) while b has hard leaves, then 0:
        // never increasing, so the sieving primes a segment needs are a prefix.
        let b_top = |lo: u64| {
            self.c
                + t_max
                    .get(self.c + 1..)
                    .map_or(0, |t| t.partition_point(|&t| t >= lo.max(1)))
        };
        let top = b_top(from as u64 * SEG_SPAN);
        let mut out = ChunkOut {
            s2: 0,
            coefficients: vec![0; top + 1],
            phi: vec![0; top + 1],
        };
        let mut segment = HardSegment::new();
        // Next multiple of p_b to remove, carried from segment to segment.
        let mut next: Vec<Multiple> = self.primes[..=top]
            .iter()
            .map(|&p| Multiple::first_at(u64::from(p), from as u64 * SEG_SPAN))
            .collect();
        for s in from..to {
            deadline.check()?;
            let lo = s as u64 * SEG_SPAN;
            let hi = lo + SEG_SPAN;
            segment.reset(lo, z, &self.primes[2..=self.c]);
            for b in self.c + 1..=b_top(lo) {
                let p = u64::from(self.primes[b]);
                let xp = x / p;
                let mut leaves = Leaves {
                    xp,
                    walk: Walk::default(),
                    coefficients: 0,
                    local: 0,
                };
                let m_top = if lo == 0 { y } else { y.min(x / (p * lo)) };
                if p * p <= y {
                    // every squarefree m' in (y/p, y] with lpf > p; primes past
                    // q_hard_max are easy leaves
                    let q_hard_max = x / (p * p * p);
                    let m_bottom = (y / p).max(x / (p * hi));
                    let from = self.sieved_m.partition_point(|&m| u64::from(m) <= m_bottom);
                    let to = self.sieved_m.partition_point(|&m| u64::from(m) <= m_top);
                    for &m in self.sieved_m[from..to.max(from)].iter().rev() {
                        let m = u64::from(m);
                        let e = self.lpf_mu[m as usize];
                        if u64::from(e & LPF_MASK) <= p {
                            continue;
                        }
                        if m > q_hard_max && self.pi[m as usize] != self.pi[m as usize - 1] {
                            continue;
                        }
                        let mp = i64::try_from(m * p).expect("m·p <= y² <= x < 2^63");
                        leaves.add(&segment, m, if e & MU_NEGATIVE == 0 { -mp } else { mp });
                    }
                } else {
                    let q_top = m_top.min(x / (y * p));
                    let q_bottom = p.max(x / (p * hi));
                    if q_top > q_bottom {
                        let i_top = self.pi[q_top as usize] as usize;
                        let i_bottom = self.pi[q_bottom as usize] as usize;
                        for i in (i_bottom + 1..=i_top).rev() {
                            let q = u64::from(self.primes[i]);
                            leaves.add(&segment, q, i64::try_from(q * p).expect("q·p <= x"));
                        }
                    }
                }
                let phi_here = i128::try_from(out.phi[b]).expect("φ <= z²/2");
                out.s2 += leaves.local + leaves.coefficients * phi_here;
                out.coefficients[b] += leaves.coefficients;
                out.phi[b] += u128::from(unpack(segment.total, lo));
                next[b] = segment.remove_multiples(p, next[b]);
            }
        }
        Ok(out)
    }

    /// `P2 = Σ_{y < p ≤ √x} p·S(x/p) − Σ_{y < p ≤ √x} p·S(p − 1)`.
    fn p2(&self, pool: Option<&ThreadPool>, deadline: &Deadline) -> Result<u128, Cancelled> {
        let (x, y, z) = (self.x, self.y, self.z);
        let r = isqrt(x);
        if r <= y {
            return Ok(0);
        }
        let base = &self.primes[2..];
        let threads = threads(pool);

        // Σ p·S(p − 1) over y < p ≤ r, and S(r − 1), by one sieve of [0, r].
        let segments = (r + 1).div_ceil(SEG_SPAN) as usize;
        let chunks = (threads * 8).min(segments);
        let parts = run_chunks(pool, chunks, |k| {
            let mut bits = Box::new([0u64; SEG_WORDS]);
            let mut sieve = PrimeSegments::new(base);
            let (mut sum, mut weighted, mut weights) = (0u128, 0u128, 0u128);
            for s in segments * k / chunks..segments * (k + 1) / chunks {
                deadline.check()?;
                let lo = s as u64 * SEG_SPAN;
                sieve.sieve(&mut bits, lo, r);
                for (w, &word) in bits.iter().enumerate() {
                    let mut word = word;
                    while word != 0 {
                        let i = w * 64 + word.trailing_zeros() as usize;
                        word &= word - 1;
                        let p = u128::from(lo + 2 * i as u64 + 1);
                        if p > u128::from(y) {
                            weighted += p * sum;
                            weights += p;
                        }
                        sum += p;
                    }
                }
            }
            Ok((sum, weighted, weights))
        })?;
        let mut below = 2u128; // the prime 2, which the odd sieve leaves out
        let mut minus = 0u128;
        for (sum, weighted, weights) in parts {
            minus += weighted + weights * below;
            below += sum;
        }
        if is_prime(r, base) {
            below -= u128::from(r); // below = S(r − 1)
        }

        // Σ p·S(x/p): t = x/p runs over [r, z] upwards while p runs down from r.
        let t_start = r - r % 2; // even, so segments start on even numbers
        let segments = (z + 1 - t_start).div_ceil(SEG_SPAN) as usize;
        let chunks = (threads * 8).min(segments);
        let parts = run_chunks(pool, chunks, |k| {
            let t_lo = t_start + (segments * k / chunks) as u64 * SEG_SPAN;
            let t_hi = (t_start + (segments * (k + 1) / chunks) as u64 * SEG_SPAN).min(z + 1);
            self.p2_chunk(r, t_lo.max(r), t_hi, deadline)
        })?;
        let mut plus = 0u128;
        for (sum, weighted, weights) in parts {
            plus += weighted + weights * below;
            below += sum;
        }
        Ok(plus - minus)
    }

    popcnt_variant! {
        /// For the primes `p` in `(y, r]` with `x/p` in `[t_lo, t_hi)`: `(Σ primes in
        /// [t_lo, t_hi), Σ p·(Σ primes in [t_lo, x/p]), Σ p)`.
        fn p2_chunk(r: u64, t_lo: u64, t_hi: u64, deadline: &Deadline)
            -> Result<(u128, u128, u128), Cancelled> = p2_chunk_portable
    }

    #[allow(clippy::inline_always)] // see popcnt_variant
    #[inline(always)]
    fn p2_chunk_portable(
        &self,
        r: u64,
        t_lo: u64,
        t_hi: u64,
        deadline: &Deadline,
    ) -> Result<(u128, u128, u128), Cancelled> {
        let (x, y) = (self.x, self.y);
        let base = &self.primes[2..];
        // p with t_lo <= x/p < t_hi  <=>  x/t_hi < p <= x/t_lo
        let p_top = r.min(x / t_lo);
        let p_bottom = y.max(x / t_hi);
        let mut p_bits = Box::new([0u64; SEG_WORDS]);
        let mut t_bits = Box::new([0u64; SEG_WORDS]);
        let t_first = t_lo - t_lo % 2;
        let mut t_seg = t_first;
        let mut t_sieve = PrimeSegments::new(base);
        t_sieve.sieve(&mut t_bits, t_seg, t_hi - 1);
        // Sum of the primes in [t_lo, t_seg), and the walk within the current segment.
        let mut before = 0u128;
        let mut word = 0usize;
        let mut within = 0u64;
        let (mut weighted, mut weights) = (0u128, 0u128);
        // t_lo is even, or t_lo = r odd with t_first = r − 1 even: either way the
        // segment holds no odd number below t_lo.
        if p_top > p_bottom {
            // p descends, one segment of the p-range at a time
            let mut p_seg_hi = p_top + 1; // exclusive
            while p_seg_hi > p_bottom + 1 {
                deadline.check()?;
                let span = (p_seg_hi - p_bottom - 1).min(SEG_SPAN - 2);
                let p_lo = (p_seg_hi - span) - (p_seg_hi - span) % 2;
                sieve_primes(&mut p_bits, p_lo, p_seg_hi - 1, base);
                for w in (0..SEG_WORDS).rev() {
                    let mut bits = p_bits[w];
                    while bits != 0 {
                        let top = 63 - bits.leading_zeros() as usize;
                        bits &= !(1u64 << top);
                        let p = p_lo + 2 * (w * 64 + top) as u64 + 1;
                        if p <= p_bottom || p >= p_seg_hi {
                            continue;
                        }
                        let t = x / p;
                        while t >= t_seg + SEG_SPAN {
                            // finish this t segment
                            before += u128::from(sum_words(&t_bits[word..], word, t_seg))
                                + u128::from(unpack(within, t_seg));
                            t_seg += SEG_SPAN;
                            t_sieve.sieve(&mut t_bits, t_seg, t_hi - 1);
                            word = 0;
                            within = 0;
                        }
                        let j = (t - t_seg).div_ceil(2) as usize; // bits [0, j) are <= t
                        while (word + 1) * 64 <= j {
                            within += weigh(t_bits[word], word);
                            word += 1;
                        }
                        let partial = if j % 64 == 0 {
                            0
                        } else {
                            weigh(t_bits[word] & ((1u64 << (j % 64)) - 1), word)
                        };
                        let s = before + u128::from(unpack(within + partial, t_seg));
                        weighted += u128::from(p) * s;
                        weights += u128::from(p);
                    }
                }
                p_seg_hi = p_lo; // p_lo is even: the odd numbers below it are next
                if p_lo <= p_bottom {
                    break;
                }
            }
        }
        // the rest of the t range
        loop {
            before += u128::from(sum_words(&t_bits[word..], word, t_seg))
                + u128::from(unpack(within, t_seg));
            t_seg += SEG_SPAN;
            if t_seg >= t_hi {
                break;
            }
            deadline.check()?;
            t_sieve.sieve(&mut t_bits, t_seg, t_hi - 1);
            word = 0;
            within = 0;
        }
        Ok((before, weighted, weights))
    }
}

/// Trial division by the odd primes of `base` (which reach `√r`).
fn is_prime(r: u64, base: &[u32]) -> bool {
    if r < 2 {
        return false;
    }
    if r % 2 == 0 {
        return r == 2;
    }
    base.iter()
        .map(|&p| u64::from(p))
        .take_while(|&p| p * p <= r)
        .all(|p| r % p != 0)
}

/// Sum of the numbers of the set bits of `words`, the first being word `first` of a
/// segment starting at `lo`.
#[allow(clippy::inline_always)] // inlined into the POPCNT variant of the P2 sums
#[inline(always)]
fn sum_words(words: &[u64], first: usize, lo: u64) -> u64 {
    // A plain loop rather than an iterator chain: nothing here may be left to a
    // separate function, compiled without POPCNT.
    let mut packed = 0;
    for (k, &word) in words.iter().enumerate() {
        packed += weigh(word, first + k);
    }
    unpack(packed, lo)
}

/// The hard leaves of one `b` in one segment, queried with `m` decreasing (so `t`
/// increasing along one walk): `Σ coefficient` and `Σ coefficient·φ_local(x/(p·m))`.
struct Leaves {
    xp: u64,
    walk: Walk,
    coefficients: i128,
    local: i128,
}

impl Leaves {
    #[allow(clippy::inline_always)] // see popcnt_variant
    #[inline(always)]
    fn add(&mut self, segment: &HardSegment, m: u64, coefficient: i64) {
        let t = quotient(self.xp, m);
        let value = segment.sum_through(&mut self.walk, t);
        self.coefficients += i128::from(coefficient);
        self.local += i128::from(coefficient) * i128::from(value);
    }
}

#[cfg_attr(test, derive(Debug, PartialEq))]
struct ChunkOut {
    s2: i128,
    coefficients: Vec<i128>,
    phi: Vec<u128>,
}

/// Where a run of increasing queries has got to in a [`HardSegment`]: `block_start`
/// packs the segment's numbers before block `block`, `before` those before word
/// `word` (in that block), so each word is weighed at most once per walk.
#[derive(Default)]
struct Walk {
    block: usize,
    block_start: u64,
    word: usize,
    before: u64,
}

/// One segment `[lo, lo + SEG_SPAN)` of the hard-leaf sieve: bit `i` (the odd number
/// `lo + 2i + 1`) is set while no removed prime divides it; `counters` hold the
/// packed `(count, Σ i)` of each block and `total` of the whole segment.
struct HardSegment {
    lo: u64,
    bits: Box<[u64; SEG_WORDS]>,
    counters: Vec<u64>,
    total: u64,
}

impl HardSegment {
    fn new() -> Self {
        Self {
            lo: 0,
            bits: Box::new([0; SEG_WORDS]),
            counters: vec![0; SEG_BITS / BLOCK_BITS],
            total: 0,
        }
    }

    /// The numbers in `[lo, lo + SEG_SPAN)` up to `z`, without the multiples of `wheel`
    /// (the odd wheel primes).
    #[allow(clippy::inline_always)] // see popcnt_variant
    #[inline(always)]
    fn reset(&mut self, lo: u64, z: u64, wheel: &[u32]) {
        self.lo = lo;
        let valid = if z >= lo + SEG_SPAN {
            SEG_BITS
        } else {
            ((z + 1 - lo) / 2) as usize
        };
        let crossed = if wheel == OddPattern::PRIMES {
            OddPattern::shared().copy_to(&mut self.bits, lo / 2);
            &[][..]
        } else {
            self.bits.fill(u64::MAX);
            wheel
        };
        clear_from(&mut self.bits[..], valid);
        for &p in crossed {
            let p = u64::from(p);
            let mut m = lo.div_ceil(p) * p;
            if m % 2 == 0 {
                m += p;
            }
            let mut i = ((m - lo - 1) / 2) as usize;
            while i < valid {
                self.bits[i / 64] &= !(1 << (i % 64));
                i += p as usize;
            }
        }
        self.total = 0;
        for (k, counter) in self.counters.iter_mut().enumerate() {
            // plain loops, as in sum_words
            *counter = 0;
            for w in k * BLOCK_WORDS..(k + 1) * BLOCK_WORDS {
                *counter += weigh(self.bits[w], w);
            }
            self.total += *counter;
        }
    }

    /// Sum of the numbers still in the segment that are `<= t` (`t >= lo`), for
    /// increasing `t` along one `walk`.
    #[allow(clippy::inline_always)] // see popcnt_variant
    #[inline(always)]
    fn sum_through(&self, walk: &mut Walk, t: u64) -> u64 {
        let j = (t - self.lo).div_ceil(2) as usize; // bits [0, j)
        let full = j / 64; // words [0, full) count whole
        if (walk.block + 1) * BLOCK_WORDS <= full {
            // Sparse queries jump whole blocks by their counters.
            while (walk.block + 1) * BLOCK_WORDS <= full {
                walk.block_start += self.counters[walk.block];
                walk.block += 1;
            }
            walk.word = walk.block * BLOCK_WORDS;
            walk.before = walk.block_start;
        }
        while walk.word < full {
            walk.before += weigh(self.bits[walk.word], walk.word);
            walk.word += 1;
        }
        let mut packed = walk.before;
        if j % 64 != 0 {
            packed += weigh(self.bits[full] & ((1u64 << (j % 64)) - 1), full);
        }
        unpack(packed, self.lo)
    }

    /// Removes the multiples `p·k` of `p` with `k` coprime to 30 (the others went with
    /// 2, 3 and 5) from the segment, from `next` on; returns the first one past it,
    /// which is right for the following segment only (`next` must be in this one).
    #[allow(clippy::inline_always)] // see popcnt_variant
    #[inline(always)]
    fn remove_multiples(&mut self, p: u64, next: Multiple) -> Multiple {
        let (bits, counters) = (&mut self.bits, &mut self.counters);
        let mut removed = 0u64;
        let following = next.cross_segment(p, self.lo, |i| {
            let (w, bit) = (i / 64, i % 64);
            let was = (bits[w] >> bit) & 1;
            bits[w] &= !(1 << bit);
            let d = was * (ONE + i as u64);
            counters[i / BLOCK_BITS] -= d;
            removed += d;
        });
        self.total -= removed;
        following
    }
}

/// A multiple `p·k` of a sieving prime with `k` coprime to 30, and the index of
/// `k mod 30` in [`RESIDUES`]: only these multiples have no factor 2, 3 or 5,
/// so stepping over the others skips 7 of every 15 odd multiples.
#[derive(Clone, Copy)]
struct Multiple {
    value: u64,
    wheel: usize,
}

impl Multiple {
    /// Calls `cross` with the bit of every such multiple of `p` in the segment at `lo`
    /// (bit `i` for `lo + 2i + 1`), from this one on; returns the first one past the
    /// segment, which is right for the following segment only.
    #[allow(clippy::inline_always)] // see popcnt_variant
    #[inline(always)]
    fn cross_segment(self, p: u64, lo: u64, mut cross: impl FnMut(usize)) -> Self {
        // Half a gap between odd multiples is one bit per `p`.
        let steps = GAPS.map(|gap| gap / 2 * p as usize);
        let mut i = ((self.value - lo - 1) / 2) as usize;
        let mut wheel = self.wheel;
        while i < SEG_BITS {
            cross(i);
            i += steps[wheel];
            wheel = (wheel + 1) % 8;
        }
        Self {
            value: lo + 2 * i as u64 + 1,
            wheel,
        }
    }

    /// The first such multiple of `p` at or above `lo`.
    fn first_at(p: u64, lo: u64) -> Self {
        let mut k = lo.div_ceil(p);
        loop {
            if let Some(wheel) = RESIDUES.iter().position(|&r| r == k % 30) {
                return Self {
                    value: p * k,
                    wheel,
                };
            }
            k += 1;
        }
    }
}

/// The odd numbers with no factor among the odd wheel primes, as a bit stream
/// (bit `k` for `2k + 1`) of period `3·5·7·11·13 = 15015`: copying it into a segment
/// replaces about 0.85 crossings per bit by one shifted word copy per 64 bits.
struct OddPattern {
    /// Word `k` holds stream bits `64k … 64k + 63`: enough words for a segment
    /// starting anywhere in the first period, plus one for its shifted last word
    /// (18 KiB, built once per process).
    words: Vec<u64>,
}

impl OddPattern {
    const PRIMES: &'static [u32] = &[3, 5, 7, 11, 13];
    const PERIOD: usize = 15015;
    const WORDS: usize = Self::PERIOD.div_ceil(64) + SEG_WORDS;

    fn shared() -> &'static Self {
        static PATTERN: std::sync::OnceLock<OddPattern> = std::sync::OnceLock::new();
        PATTERN.get_or_init(|| {
            let mut words = vec![0u64; Self::WORDS];
            for k in 0..64 * Self::WORDS {
                let n = 2 * k as u64 + 1;
                if Self::PRIMES.iter().all(|&p| n % u64::from(p) != 0) {
                    words[k / 64] |= 1 << (k % 64);
                }
            }
            Self { words }
        })
    }

    /// Fills a segment's `bits` with the stream from bit `start` on.
    fn copy_to(&self, bits: &mut [u64; SEG_WORDS], start: u64) {
        // The stream repeats every PERIOD bits, so start in the first period: at most
        // word PERIOD / 64, and the last read is word PERIOD / 64 + SEG_WORDS < WORDS.
        let offset = (start % Self::PERIOD as u64) as usize;
        let (first, shift) = (offset / 64, offset % 64);
        let source = &self.words[first..=first + SEG_WORDS];
        for (word, pair) in bits.iter_mut().zip(source.windows(2)) {
            *word = if shift == 0 {
                pair[0]
            } else {
                (pair[0] >> shift) | (pair[1] << (64 - shift))
            };
        }
    }
}

/// `φ(t, c)` weighted: the sum of the integers in `[1, t]` coprime to the product `P`
/// of the first `c` primes, from per-residue tables of one period.
struct Wheel {
    period: u64,
    /// Residues in `[1, r]` coprime to `P`: their count and their sum, for `r < P`.
    count: Vec<u32>,
    sum: Vec<u64>,
}

impl Wheel {
    fn shared() -> &'static Self {
        static WHEEL: std::sync::OnceLock<Wheel> = std::sync::OnceLock::new();
        WHEEL.get_or_init(|| Self::new(&[2, 3, 5, 7, 11, 13]))
    }

    fn new(primes: &[u32]) -> Self {
        let period: u64 = primes.iter().map(|&p| u64::from(p)).product();
        let mut count = Vec::with_capacity(period as usize);
        let mut sum = Vec::with_capacity(period as usize);
        let (mut c, mut s) = (0u32, 0u64);
        for r in 0..period {
            if r > 0 && primes.iter().all(|&p| r % u64::from(p) != 0) {
                c += 1;
                s += r;
            }
            count.push(c);
            sum.push(s);
        }
        Self { period, count, sum }
    }

    /// With `t = qP + r`: `Σ_{j<q} (j·P·φ(P) + R) + q·P·count(r) + sum(r)`, where
    /// `R` is the sum of one period's residues. At most `t²/2 < 2^120` for `t <= 10^18`.
    fn phi(&self, t: u64) -> u128 {
        let period = u128::from(self.period);
        let q = u128::from(t / self.period);
        let r = (t % self.period) as usize;
        let per_period = u128::from(*self.count.last().expect("period >= 1"));
        let residues = u128::from(*self.sum.last().expect("period >= 1"));
        let whole = period * per_period * (q * q.saturating_sub(1) / 2) + q * residues;
        whole + q * period * u128::from(self.count[r]) + u128::from(self.sum[r])
    }
}

/// Primes up to `y` (1-indexed), `π(t)` and prime sums, and the lpf/μ table.
fn tables(y: u64) -> (Vec<u32>, Vec<u32>, Vec<u64>, Vec<u16>) {
    let len = y as usize + 1;
    let mut composite = vec![false; len];
    let mut primes = vec![1u32];
    let mut pi = Vec::with_capacity(len);
    let mut psum = vec![0u64];
    for t in 0..len {
        if t >= 2 && !composite[t] {
            primes.push(u32::try_from(t).expect("y < 2^32"));
            psum.push(psum.last().expect("not empty") + t as u64);
            let mut j = t * t;
            while j < len {
                composite[j] = true;
                j += t;
            }
        }
        pi.push(u32::try_from(primes.len() - 1).expect("π(y) < 2^32"));
    }
    drop(composite);
    let mut lpf_mu = vec![LPF_MASK; len];
    lpf_mu[0] = 0;
    // Descending, so the smallest prime factor is written last.
    for &p in primes[1..].iter().rev() {
        let p = p as usize;
        let capped = u16::try_from(p.min(LPF_MASK as usize)).expect("capped");
        for m in (p..len).step_by(p) {
            lpf_mu[m] = ((lpf_mu[m] & MU_NEGATIVE) ^ MU_NEGATIVE) | capped;
        }
    }
    for &p in &primes[1..] {
        let square = p as usize * p as usize;
        if square >= len {
            break;
        }
        for m in (square..len).step_by(square) {
            lpf_mu[m] = 0;
        }
    }
    (primes, pi, psum, lpf_mu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::ThreadPoolBuilder;
    use std::time::{Duration, Instant};

    /// Lucy_Hedgehog's O(n^¾) prime sum, written from the recurrence
    /// `S(v, p) = S(v, p − 1) − p·(S(v/p, p − 1) − S(p − 1, p − 1))`: an independent
    /// reference (O(√n) u128 values, fine in a test, too big for the kernel).
    fn lucy(n: u64) -> u128 {
        if n < 3 {
            return 0;
        }
        let v = n - 1;
        let r = isqrt(v);
        // small[i] = S(i), large[i] = S(v / i), starting from the sum 2 + … + k.
        let tri = |k: u64| u128::from(k) * (u128::from(k) + 1) / 2 - 1;
        let mut small: Vec<u128> = (0..=r).map(|i| if i == 0 { 0 } else { tri(i) }).collect();
        let mut large: Vec<u128> = (0..=r).map(|i| v.checked_div(i).map_or(0, tri)).collect();
        for p in 2..=r {
            if small[p as usize] == small[p as usize - 1] {
                continue;
            }
            let sp = small[p as usize - 1];
            let pp = p * p;
            let p128 = u128::from(p);
            for i in 1..=r.min(v / pp) {
                let d = i * p;
                let inner = if d <= r {
                    large[d as usize]
                } else {
                    small[(v / d) as usize]
                };
                large[i as usize] -= p128 * (inner - sp);
            }
            for i in (pp..=r).rev() {
                small[i as usize] -= p128 * (small[(i / p) as usize] - sp);
            }
        }
        large[1]
    }

    fn pool(threads: usize) -> ThreadPool {
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    fn lmo(n: u64, alpha: f64, pool: Option<&ThreadPool>) -> u128 {
        Lmo::new(n - 1, alpha)
            .run(pool, &Deadline::never())
            .unwrap()
    }

    fn simple_below(n: u64) -> u128 {
        if n < 3 {
            0
        } else {
            simple_sum(n - 1)
        }
    }

    #[test]
    fn roots_are_exact() {
        for x in [
            0u64,
            1,
            7,
            8,
            9,
            26,
            27,
            28,
            999_999,
            1_000_000,
            MAX_N,
            u64::MAX,
        ] {
            let c = icbrt(x);
            assert!(
                u128::from(c).pow(3) <= u128::from(x) && u128::from(c + 1).pow(3) > u128::from(x)
            );
            let s = isqrt(x);
            assert!(
                u128::from(s).pow(2) <= u128::from(x) && u128::from(s + 1).pow(2) > u128::from(x)
            );
        }
    }

    #[test]
    fn segment_sieve_marks_exactly_the_primes() {
        let is_prime = |n: u64| n > 1 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0);
        let base: Vec<u32> = (3..2500u32).filter(|&p| is_prime(u64::from(p))).collect();
        // Starts below, among and past the pattern's primes 3 … 13, and limits inside,
        // at and past a segment's end; then consecutive segments of one sieve.
        // 2·15014 starts on the period's last bit, the pattern's largest shifted read.
        let starts = (0u64..40)
            .step_by(2)
            .chain([SEG_SPAN, 2 * 15_014, 2 * 15_015 * 64 + 2]);
        for lo in starts {
            for limit in [lo, lo + 1, lo + 7, lo + 20, lo + 1000, lo + SEG_SPAN + 5] {
                let mut bits = [0u64; SEG_WORDS];
                sieve_primes(&mut bits, lo, limit, &base);
                let marked: Vec<u64> = (0..SEG_BITS)
                    .filter(|&i| bits[i / 64] >> (i % 64) & 1 == 1)
                    .map(|i| lo + 2 * i as u64 + 1)
                    .collect();
                let primes: Vec<u64> = (lo..=limit.min(lo + SEG_SPAN - 1))
                    .filter(|&n| n % 2 == 1 && is_prime(n))
                    .collect();
                assert_eq!(marked, primes, "lo = {lo}, limit = {limit}");
            }
        }
        // Consecutive segments carry each prime's next multiple: from 0, and from a
        // start that is no multiple of a segment.
        for start in [0, 1_000_000] {
            let mut sieve = PrimeSegments::new(&base);
            let mut bits = [0u64; SEG_WORDS];
            for s in 0..12u64 {
                let lo = start + s * SEG_SPAN;
                sieve.sieve(&mut bits, lo, u64::MAX);
                let marked = (0..SEG_BITS).filter(|&i| bits[i / 64] >> (i % 64) & 1 == 1);
                let primes = (lo..lo + SEG_SPAN).filter(|&n| n % 2 == 1 && is_prime(n));
                assert!(
                    marked.map(|i| lo + 2 * i as u64 + 1).eq(primes),
                    "segment at {lo}"
                );
            }
        }
    }

    #[test]
    fn portable_and_popcnt_variants_agree() {
        // On a CPU with POPCNT the other tests only run the POPCNT variants.
        let never = Deadline::never();
        for (n, alpha) in [(100_000_000_000u64, 8.0), (3_000_000_007, 3.0)] {
            let lmo = Lmo::new(n - 1, alpha);
            let t_max = lmo.hard_t_maxes();
            let segments = (lmo.z + 1).div_ceil(SEG_SPAN) as usize;
            for (from, to) in [(0, segments), (segments / 3, segments / 3 + 2)] {
                assert_eq!(
                    lmo.hard_chunk(from, to, &t_max, &never),
                    lmo.hard_chunk_portable(from, to, &t_max, &never),
                    "n = {n}, segments {from}..{to}"
                );
            }
            let r = isqrt(lmo.x);
            let middle = (r + (lmo.z - r) / 2) & !1;
            for (t_lo, t_hi) in [(r, lmo.z + 1), (middle, lmo.z + 1)] {
                assert_eq!(
                    lmo.p2_chunk(r, t_lo, t_hi, &never),
                    lmo.p2_chunk_portable(r, t_lo, t_hi, &never),
                    "n = {n}, t in {t_lo}..{t_hi}"
                );
            }
        }
    }

    #[test]
    fn lucy_matches_a_plain_sieve() {
        for n in [0u64, 1, 2, 3, 4, 5, 100, 1000, 65_537, 1_000_003] {
            assert_eq!(lucy(n), simple_below(n), "n = {n}");
        }
    }

    #[test]
    fn general_path_small_n_every_alpha() {
        // The LMO path itself (not the small-n shortcut) against a plain sieve.
        let pool = pool(3);
        for n in (101..3000)
            .step_by(7)
            .chain([4096, 10_007, 65_536, 100_000])
        {
            let expected = simple_below(n);
            for alpha in [1.0, 2.0, 3.5, 8.0] {
                assert_eq!(lmo(n, alpha, None), expected, "n = {n}, alpha = {alpha}");
            }
            assert_eq!(lmo(n, 2.0, Some(&pool)), expected, "pool, n = {n}");
        }
    }

    #[test]
    fn every_n_below_twenty_thousand() {
        let mut expected = 0u128;
        for n in 0..20_000u64 {
            assert_eq!(sum_of_primes(n), expected, "n = {n}");
            if n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0) {
                expected += u128::from(n);
            }
        }
    }

    #[test]
    fn prime_powers_and_neighbours() {
        let pool = pool(2);
        let mut cases = vec![];
        for p in [2u64, 3, 5, 7, 11, 13, 17, 101, 1009, 10_007, 100_003] {
            for k in [2u32, 3] {
                let q = p.pow(k);
                if q < 10_000_000_000 {
                    cases.extend([q - 1, q, q + 1, q + 2]);
                }
            }
        }
        for n in cases {
            let expected = lucy(n);
            assert_eq!(sum_of_primes(n), expected, "n = {n}");
            assert_eq!(
                sum_of_primes_on(n, Some(&pool), &Deadline::never()).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn random_n_match_lucy() {
        let pool = pool(2);
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..120 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = 4 + i % 7; // 10^4 … 10^10
            let n = state % 10u64.pow(digits as u32 + 1);
            let expected = lucy(n);
            assert_eq!(sum_of_primes(n), expected, "n = {n}");
            assert_eq!(
                sum_of_primes_on(n, Some(&pool), &Deadline::never()).unwrap(),
                expected,
                "pool, n = {n}"
            );
        }
    }

    #[test]
    fn agrees_with_the_sieve_kernel() {
        let pool = pool(2);
        for n in [
            10_000u64,
            1 << 20,
            123_456_789,
            1_000_000_000,
            2_147_483_648,
        ] {
            assert_eq!(
                sum_of_primes(n),
                crate::sieve::sum_of_primes_on(n, Some(&pool)),
                "n = {n}"
            );
        }
    }

    #[test]
    fn known_values() {
        let pool = pool(2);
        for (n, expected) in [
            (1_000_000_000u64, 24_739_512_092_254_535u128),
            (100_000_000_000, 201_467_077_743_744_681_014),
            (1_000_000_000_000, 18_435_588_552_550_705_911_377),
            (10_000_000_000_000, 1_699_246_443_377_779_418_889_494),
        ] {
            assert_eq!(
                sum_of_primes_on(n, Some(&pool), &Deadline::never()).unwrap(),
                expected,
                "n = {n}"
            );
        }
        assert_eq!(lucy(100_000_000_000), 201_467_077_743_744_681_014);
    }

    #[test]
    fn lucy_at_ten_to_the_twelve_and_random_alphas() {
        let n = 1_000_000_000_000u64;
        assert_eq!(lucy(n), 18_435_588_552_550_705_911_377);
        for alpha in [1.0, 4.0, 20.0] {
            assert_eq!(
                lmo(n, alpha, None),
                18_435_588_552_550_705_911_377,
                "alpha = {alpha}"
            );
        }
    }

    #[test]
    fn cancels_promptly() {
        let deadline = Deadline::after(Duration::from_millis(5));
        let started = Instant::now();
        let pool = pool(2);
        assert_eq!(
            sum_of_primes_on(MAX_N, Some(&pool), &deadline),
            Err(Cancelled)
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    #[should_panic(expected = "exceeds MAX_N")]
    fn refuses_n_above_max() {
        let _ = sum_of_primes(MAX_N + 1);
    }

    /// `cargo test --release tune_alpha -- --ignored --nocapture`: times per α.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn tune_alpha() {
        let n: u64 = std::env::var("TUNE_N").map_or(1_000_000_000_000, |v| v.parse().unwrap());
        for alpha in std::env::var("TUNE_A").map_or(vec![4.0, 8.0], |v| {
            v.split(',').map(|a| a.parse().unwrap()).collect()
        }) {
            let started = Instant::now();
            let sum = lmo(n, alpha, None);
            println!("n={n} alpha={alpha}: {:?} ({sum})", started.elapsed());
        }
    }
}
