"""The test suite's own helper: what counts as a CI run."""

from __future__ import annotations

import pytest

from . import support


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", " true\n"])
def test_truthy_ci_is_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert support.in_ci()


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off"])
def test_falsy_or_unset_ci_is_not_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not support.in_ci()
    monkeypatch.delenv("CI")
    assert not support.in_ci()


def test_a_missing_tool_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        support.missing("no hey")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no hey"):
        support.missing("no hey")
