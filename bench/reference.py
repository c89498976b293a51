"""Known answers, so every implementation (ours, NumPy, primesieve) is checked against an
independent table rather than only against each other."""

from __future__ import annotations

# Sum of the primes below 10^k (OEIS A046731), k = 1..11; 1e11 re-checked by the memory probe.
KNOWN_SUMS: dict[int, int] = {
    10**1: 17,
    10**2: 1_060,
    10**3: 76_127,
    10**4: 5_736_396,
    10**5: 454_396_537,
    10**6: 37_550_402_023,
    10**7: 3_203_324_994_356,
    10**8: 279_209_790_387_276,
    10**9: 24_739_512_092_254_535,
    10**10: 2_220_822_432_581_729_238,
    10**11: 201_467_077_743_744_681_014,
    10**12: 18_435_588_552_550_705_911_377,
    10**13: 1_699_246_443_377_779_418_889_494,
}

# The best known program's one-core times on this kind of machine (issue 11's table),
# and the sieve's own time there at 10^10, re-measured in every run so drift shows.
BEST_KNOWN_S: dict[int, float] = {
    10**9: 0.002,
    10**10: 0.009,
    10**11: 0.034,
    10**12: 0.10,
    10**13: 0.20,
    10**14: 0.86,
    10**15: 3.7,
}
SIEVE_TABLE_S = {10**10: 2.34}


def short_n(n: int) -> str:
    """``100000`` → ``1e5``; other numbers unchanged. Keeps keys and labels readable."""
    text = str(n)
    if n >= 10 and text == "1" + "0" * (len(text) - 1):
        return f"1e{len(text) - 1}"
    return text
