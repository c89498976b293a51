//! The Python door of one kernel, two ways: `#[rustpath::kernel]` and a hand-written
//! `#[pyfunction]` in the previous scaffold's style (GIL released for the call).
use pyo3::prelude::*;

#[rustpath::kernel]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn add_plain(a: i64, b: i64) -> i64 {
    a + b
}

#[pyfunction]
fn add_hand(py: Python<'_>, a: i64, b: i64) -> PyResult<i64> {
    Ok(py.detach(move || add_plain(a, b)))
}

#[rustpath::kernel]
fn longest(words: &[String], limit: i64) -> String {
    words
        .iter()
        .filter(|w| (w.len() as i64) <= limit)
        .max_by_key(|w| w.len())
        .cloned()
        .unwrap_or_default()
}

#[pyfunction]
fn longest_hand(py: Python<'_>, words: Vec<String>, limit: i64) -> PyResult<String> {
    Ok(py.detach(move || {
        words
            .iter()
            .filter(|w| (w.len() as i64) <= limit)
            .max_by_key(|w| w.len())
            .cloned()
            .unwrap_or_default()
    }))
}

#[pymodule]
fn cgdoor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    rustpath::python::export(m, &[add::KERNEL, longest::KERNEL])?;
    m.add_function(wrap_pyfunction!(add_hand, m)?)?;
    m.add_function(wrap_pyfunction!(longest_hand, m)?)?;
    Ok(())
}
