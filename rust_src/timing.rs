//! `Server-Timing` durations, written the same way by the front's native answers and by
//! the request path Flask serves: milliseconds with three decimals, from the
//! microseconds rounded half to even (as `flask_rustpath.support.headers.timing` writes
//! them in Python), in plain digits (a float's `format!` costs about 1k instructions).

/// The milliseconds of `seconds`, with three decimals, appended to `out`.
pub fn push_millis(out: &mut String, seconds: f64) {
    let micros = (seconds * 1e6).round_ties_even().max(0.0) as u64;
    push_decimal(out, micros / 1000);
    out.push('.');
    let fraction = micros % 1000;
    for digit in [fraction / 100, fraction / 10 % 10, fraction % 10] {
        out.push(char::from(b'0' + digit as u8));
    }
}

/// One `Server-Timing` entry: `side;dur=MS;desc="kernel"`, without `dur` for a call
/// refused before it ran.
pub fn write_entry(out: &mut String, side: &str, kernel: &str, seconds: Option<f64>) {
    out.push_str(side);
    if let Some(seconds) = seconds {
        out.push_str(";dur=");
        push_millis(out, seconds);
    }
    out.push_str(";desc=\"");
    out.push_str(kernel);
    out.push('"');
}

/// `value` in decimal digits.
fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(seconds: f64) -> String {
        let mut out = String::new();
        push_millis(&mut out, seconds);
        out
    }

    #[test]
    fn three_decimals_rounded_half_to_even_on_the_microseconds() {
        assert_eq!(millis(0.0), "0.000");
        assert_eq!(millis(0.0015), "1.500");
        assert_eq!(millis(0.000_000_5), "0.000"); // a tie goes to the even microsecond
        assert_eq!(millis(0.000_001_5), "0.002");
        assert_eq!(millis(123.456_789_4), "123456.789");
    }

    #[test]
    fn an_entry_names_side_and_kernel() {
        let mut out = String::new();
        write_entry(&mut out, "rust", "k", Some(0.002));
        out.push_str(", ");
        write_entry(&mut out, "python", "k", None);
        assert_eq!(out, "rust;dur=2.000;desc=\"k\", python;desc=\"k\"");
    }
}
