"""Reading a Flask URL rule's text: its variables, a loosened copy, its fixed start.

The one place that parses rule text. A rule is read from its text, not compiled,
because an app's custom converters are not known when a route is declared.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from werkzeug.routing import parse_converter_args

# <int:n>, <int(signed=True):n>, <n> → converter, its arguments, variable name
RULE_VARIABLE = re.compile(
    r"<(?:(?P<converter>[^<>:(]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[^<>:]+)>"
)


class RuleVariable(NamedTuple):
    name: str
    converter: str  # "default" when the rule names none
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def rule_variables(rule: str) -> tuple[RuleVariable, ...]:
    """The variables of ``rule`` in order of appearance, with their converters."""
    found = []
    for match in RULE_VARIABLE.finditer(rule):
        args, kwargs = parse_converter_args(match["args"]) if match["args"] else ((), {})
        found.append(RuleVariable(match["name"], match["converter"] or "default", args, kwargs))
    return tuple(found)


def loosen(rule: str) -> str:
    """``rule`` with every converter replaced by a plain segment (``path`` stays
    ``path``): a URL that matches the loose rule but not the real one has a value
    its converter refused."""

    def loose(match: re.Match[str]) -> str:
        converter = "path" if match["converter"] == "path" else "string"
        return f"<{converter}:{match['name']}>"

    return RULE_VARIABLE.sub(loose, rule)


def fixed_start(rule: str) -> str:
    """The text of ``rule`` before its first variable, without a trailing slash:
    ``/sum_of_primes`` for ``/sum_of_primes/<int:n>``."""
    match = RULE_VARIABLE.search(rule)
    return (rule if match is None else rule[: match.start()]).rstrip("/")


def rule_shape(rule: str) -> str:
    """``rule`` with variable names dropped: two rules of one shape match the same URLs
    (``/total/<int:n>`` and ``/total/<int:count>``)."""
    return RULE_VARIABLE.sub(lambda m: f"<{m['converter'] or 'default'}>", rule)
