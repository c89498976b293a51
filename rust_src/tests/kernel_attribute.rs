//! `#[rustpath::kernel]` through the native door, as the front calls it.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rustpath::abi::{Entry, NativeEntry, Outcome};
use rustpath::{Deadline, Error};

/// The issue's text kernel: the `limit` longest words with their vowel counts.
#[rustpath::kernel]
fn rank_words(words: &[String], limit: i64) -> Result<Vec<(String, u64)>, Error> {
    let limit =
        usize::try_from(limit).map_err(|_| format!("limit must not be negative, got {limit}"))?;
    let mut ranked: Vec<(String, u64)> = words
        .iter()
        .map(|w| {
            (
                w.clone(),
                w.chars().filter(|c| "aeiou".contains(*c)).count() as u64,
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(limit);
    Ok(ranked)
}

/// A kernel that only a deadline ends, unless `n` is small.
#[rustpath::kernel]
fn spin(n: u64, deadline: &Deadline<'_>) -> Result<u64, Error> {
    for i in 0..n {
        if i % 1024 == 0 {
            deadline.check()?;
        }
    }
    Ok(n)
}

#[rustpath::kernel]
fn explode(text: &str) -> u64 {
    panic!("on purpose: {text}")
}

fn entry(native: NativeEntry) -> Entry {
    let leaked: &'static NativeEntry = Box::leak(Box::new(native));
    // SAFETY: a live version-1 entry for the rest of the test process.
    #[allow(unsafe_code)]
    unsafe { Entry::from_pointer(leaked) }.unwrap()
}

#[test]
fn answers_as_json() {
    let flag = AtomicBool::new(false);
    let rank = entry(rank_words::KERNEL.native);
    assert_eq!(rank_words::KERNEL.name, "rank_words");
    assert_eq!(
        rank.call(r#"{"words":["tree","aeon","sky"],"limit":2}"#, None, &flag),
        Outcome::Ok(r#"[["aeon",3],["tree",2]]"#.into())
    );
}

#[test]
fn err_is_bad_input_naming_the_kernel() {
    let flag = AtomicBool::new(false);
    let rank = entry(rank_words::KERNEL.native);
    assert_eq!(
        rank.call(r#"{"words":[],"limit":-1}"#, None, &flag),
        Outcome::BadInput("rank_words: limit must not be negative, got -1".into())
    );
    assert_eq!(
        rank.call(r#"{"words":[]}"#, None, &flag),
        Outcome::BadInput("rank_words: missing argument 'limit'".into())
    );
    match rank.call(r#"{"words":"tree","limit":1}"#, None, &flag) {
        Outcome::BadInput(message) => assert!(
            message.starts_with("rank_words: argument 'words': "),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(rank.call("[1]", None, &flag), Outcome::BadInput(m) if m.starts_with("arguments are not a JSON object"))
    );
}

#[test]
fn arguments_are_read_as_any_json_object_gives_them() {
    let flag = AtomicBool::new(false);
    let rank = entry(rank_words::KERNEL.native);
    let answer = Outcome::Ok(r#"[["aeon",3]]"#.into());
    for args in [
        // Any order, unknown keys skipped, whitespace, a key spelt with escapes.
        r#"{"limit":1,"words":["aeon","sky"]}"#,
        r#"{"other":{"a":[1,2,{"b":null}]},"words":["aeon","sky"],"limit":1}"#,
        " { \"words\" : [ \"aeon\" , \"sky\" ] , \"\\u006cimit\" : 1 } ",
        // A repeated key: the last one counts, as in a decoded map.
        r#"{"limit":5,"words":["aeon","sky"],"limit":1}"#,
    ] {
        assert_eq!(rank.call(args, None, &flag), answer, "{args}");
    }
    // The type's own words, without where in the text they were found.
    assert_eq!(
        rank.call(r#"{"words":["a"],"limit":"7"}"#, None, &flag),
        Outcome::BadInput(
            r#"rank_words: argument 'limit': invalid type: string "7", expected i64"#.into()
        )
    );
    for bad in [
        r#"{"words":[],"limit":1} x"#,
        r#"{"words":[],"limit":1"#,
        r#"{"words":[],"limit":"#,
        r#"{"words":["a",],"limit":1}"#,
        "",
        "7",
    ] {
        assert!(
            matches!(rank.call(bad, None, &flag), Outcome::BadInput(m) if m.starts_with("arguments are not a JSON object: ")),
            "{bad}"
        );
    }
}

#[test]
fn a_deadline_or_the_cancel_flag_is_a_deadline() {
    let flag = AtomicBool::new(false);
    let spin = entry(spin::KERNEL.native);
    assert_eq!(
        spin.call(r#"{"n":5000}"#, None, &flag),
        Outcome::Ok("5000".into())
    );
    let forever = r#"{"n":18446744073709551615}"#;
    assert_eq!(
        spin.call(forever, Some(Duration::from_millis(20)), &flag),
        Outcome::Deadline
    );
    assert_eq!(
        spin.call(forever, None, &AtomicBool::new(true)),
        Outcome::Deadline
    );
}

#[test]
fn a_panic_is_a_failure_not_an_unwind() {
    let flag = AtomicBool::new(false);
    let explode = entry(explode::KERNEL.native);
    assert_eq!(
        explode.call(r#"{"text":"boom"}"#, None, &flag),
        Outcome::Failed("the kernel panicked: on purpose: boom".into())
    );
}

#[test]
fn the_functions_stay_plain_rust() {
    assert_eq!(rank_words(&["ab".into()], 5), Ok(vec![("ab".into(), 1)]));
    assert_eq!(spin(3, &Deadline::never()), Ok(3));
}
