// Sum of the primes below n with libprimesieve: the benchmark's anchor.
//
// primesieve is the fastest widely used prime sieve, so "how far are we from it, on
// the same machine and the same thread count" is a fairer yardstick than any Python
// baseline. The range [0, n) is cut into one contiguous chunk per thread, each
// iterated by its own primesieve::iterator on its own std::thread; the sum is kept in
// unsigned __int128 (it passes 2^64 near n = 3e10) and printed in decimal.
//
// Usage: primesieve_sum N THREADS REPEATS
// Prints one JSON object: {"primesieve": version, "n", "threads", "sum", "seconds": [...]}
// where "seconds" has REPEATS wall-clock times of the whole sum, after one untimed
// warm-up run. Built by bench/primesieve.py with g++ -O3 ... -lprimesieve.

#include <primesieve.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using u128 = unsigned __int128;

// Sum of the primes p with lo <= p < hi, using the iterator's batch interface: the
// documented fastest way to walk primes with primesieve::iterator.
u128 sum_range(std::uint64_t lo, std::uint64_t hi) {
    u128 sum = 0;
    if (lo >= hi) {
        return sum;
    }
    primesieve::iterator it(lo, hi);
    it.generate_next_primes();
    for (; it.primes_[it.size_ - 1] < hi; it.generate_next_primes()) {
        for (std::size_t i = 0; i < it.size_; i++) {
            sum += it.primes_[i];
        }
    }
    for (std::size_t i = 0; it.primes_[i] < hi; i++) {
        sum += it.primes_[i];
    }
    return sum;
}

u128 sum_below(std::uint64_t n, unsigned threads) {
    std::vector<u128> partial(threads, 0);
    std::vector<std::thread> workers;
    std::uint64_t chunk = n / threads + 1;
    for (unsigned t = 0; t < threads; t++) {
        std::uint64_t lo = std::min<std::uint64_t>(n, chunk * t);
        std::uint64_t hi = std::min<std::uint64_t>(n, chunk * (t + 1));
        workers.emplace_back([&partial, t, lo, hi] { partial[t] = sum_range(lo, hi); });
    }
    u128 total = 0;
    for (unsigned t = 0; t < threads; t++) {
        workers[t].join();
        total += partial[t];
    }
    return total;
}

std::string to_decimal(u128 value) {
    if (value == 0) {
        return "0";
    }
    std::string digits;
    while (value > 0) {
        digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
        value /= 10;
    }
    return digits;
}

bool parse(const char* text, unsigned long long& out) {
    char* end = nullptr;
    out = std::strtoull(text, &end, 10);
    return end != text && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
    unsigned long long n = 0, threads = 0, repeats = 0;
    if (argc != 4 || !parse(argv[1], n) || !parse(argv[2], threads) ||
        !parse(argv[3], repeats) || threads < 1 || threads > 1024 || repeats < 1 ||
        n > (1ULL << 62)) {
        std::fprintf(stderr, "usage: %s N THREADS REPEATS (N < 2^62, 1 <= THREADS <= 1024)\n",
                     argv[0]);
        return 2;
    }
    u128 sum = sum_below(n, static_cast<unsigned>(threads));  // warm-up, untimed
    std::string seconds;
    for (unsigned long long r = 0; r < repeats; r++) {
        auto start = std::chrono::steady_clock::now();
        u128 again = sum_below(n, static_cast<unsigned>(threads));
        std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        if (again != sum) {
            std::fprintf(stderr, "sums differ between repeats\n");
            return 1;
        }
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%s%.9f", r ? ", " : "", elapsed.count());
        seconds += buffer;
    }
    std::printf("{\"primesieve\": \"%s\", \"n\": %llu, \"threads\": %llu, \"sum\": \"%s\", "
                "\"seconds\": [%s]}\n",
                primesieve::primesieve_version().c_str(), n, threads, to_decimal(sum).c_str(),
                seconds.c_str());
    return 0;
}
