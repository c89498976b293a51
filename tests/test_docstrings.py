"""Docstrings shown on the dashboard and the demo's index: reST rendered, never raw."""

from __future__ import annotations

from flask_rustpath.support.docstrings import summary, summary_html


def test_literals_and_roles_become_code() -> None:
    doc = "Sum of the primes below ``n``, as :func:`flask_rustpath.kernels.sum_of_primes_naive`."
    assert summary_html(doc) == (
        "Sum of the primes below <code>n</code>, as "
        "<code>flask_rustpath.kernels.sum_of_primes_naive</code>."
    )


def test_a_roles_shown_text_is_what_sphinx_shows() -> None:
    assert summary_html(":class:`~flask_rustpath.Kernel`") == "<code>Kernel</code>"
    assert summary_html(":py:meth:`the kernel <RustPath.kernel>`") == "<code>the kernel</code>"
    assert summary_html(":data:`!PLAIN`") == "<code>PLAIN</code>"


def test_everything_else_is_escaped_text() -> None:
    html = summary_html("Compare <b>both</b> & ``a < b`` sides.")
    assert html == "Compare &lt;b&gt;both&lt;/b&gt; &amp; <code>a &lt; b</code> sides."


def test_the_summary_is_the_first_paragraph_on_one_line() -> None:
    doc = """Check that Python and Rust agree, on each kernel's
    examples and generated inputs.

    More detail that the page does not show.
    """
    assert summary(doc) == (
        "Check that Python and Rust agree, on each kernel's examples and generated inputs."
    )
    assert summary(None) == "" and summary_html("") == ""
