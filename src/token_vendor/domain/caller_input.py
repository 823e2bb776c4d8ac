"""What a caller may put into a persona (docs/contract.md §4): the stored `callerInput` read into rules, and a
request's variable values checked against them. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from token_vendor.domain.request import has_control_characters
from token_vendor.errors import ErrorCode, TokenVendorError

# A variable's name is what goes between the braces of its placeholder.
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_RULE_KEYS = frozenset({"maxChars", "pattern", "enum", "claim"})
# An undeclared name a caller sent is echoed in the answer so that they can fix it: at most this much of it.
_ECHOED_NAME_CHARS = 64


@dataclass(frozen=True)
class VariableRule:
    """What a declared variable's value must be, and where it comes from (the request, or a JWT claim)."""

    max_chars: int | None = None
    pattern: re.Pattern[str] | None = None
    enum: tuple[str, ...] | None = None
    claim: str | None = None

    def problem_with(self, value: str) -> str | None:
        """Why `value` breaks this rule, as the end of a sentence naming the variable; None when it fits."""
        if has_control_characters(value):
            return "may not contain control characters other than tab, CR and LF."
        if self.max_chars is not None and len(value) > self.max_chars:
            return f"is longer than {self.max_chars} characters."
        if self.enum is not None and value not in self.enum:
            return "must be one of: " + ", ".join(self.enum) + "."
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return "does not have the form this persona expects."
        return None


@dataclass(frozen=True)
class CallerInput:
    """The stored `callerInput`: whether a prompt is taken (and up to how long), and the declared variables.

    `variables` is None when the persona declares none: then a request with any variable is refused.
    """

    accepts_prompt: bool = True
    prompt_max_chars: int | None = None
    variables: Mapping[str, VariableRule] | None = None


def variable_values(
    declared: Mapping[str, VariableRule] | None, sent: Mapping[str, str], claims: Mapping[str, str]
) -> dict[str, str]:
    """Each declared variable's value, checked against its rule; a declared one without a value (none sent,
    or the caller's JWT lacks the claim) is the empty string."""
    rules = declared or {}
    undeclared = next((name for name in sent if name not in rules), None)
    if undeclared is not None:
        reason = (
            "is not one this persona takes." if rules else "was sent, but this persona takes no variables."
        )
        raise _invalid_variable(undeclared[:_ECHOED_NAME_CHARS], reason, "undeclared variable")
    values: dict[str, str] = {}
    for name, rule in rules.items():
        if rule.claim is not None:
            if name in sent:
                raise _invalid_variable(
                    name, "comes from your sign-in and cannot be sent in the request.", "request set a claim"
                )
            value = claims.get(rule.claim)
        else:
            value = sent.get(name)
        if value is None:
            values[name] = ""
            continue
        problem = rule.problem_with(value)
        if problem is not None:
            source = f"claim {rule.claim!r}" if rule.claim is not None else "request value"
            raise _invalid_variable(name, problem, f"{source} breaks the rule")
        values[name] = value
    return values


def _invalid_variable(name: str, reason: str, detail: str) -> TokenVendorError:
    return TokenVendorError(ErrorCode.INVALID_VARIABLE, detail, variable=name, reason=reason)


def parse_caller_input(value: object) -> CallerInput:
    if value is None:
        return CallerInput()
    if not isinstance(value, Mapping):
        raise invalid_persona("has a callerInput that is not an object")
    unknown = set(value) - {"prompt", "variables"}
    if unknown:
        raise invalid_persona(f"has callerInput keys it does not know: {', '.join(sorted(unknown))}")
    accepts_prompt, prompt_max_chars = _prompt_rule(value.get("prompt", True))
    variables = value.get("variables")
    if variables is None:
        return CallerInput(accepts_prompt, prompt_max_chars)
    if not isinstance(variables, Mapping):
        raise invalid_persona("has callerInput.variables that is not an object")
    rules = {name: _variable_rule(name, rule) for name, rule in variables.items()}
    return CallerInput(accepts_prompt, prompt_max_chars, MappingProxyType(rules))


def _prompt_rule(value: object) -> tuple[bool, int | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, Mapping) and set(value) == {"maxChars"} and is_positive_int(value["maxChars"]):
        return True, value["maxChars"]
    raise invalid_persona('has a callerInput.prompt that is not true, false or {"maxChars": N}')


def _variable_rule(name: object, rule: object) -> VariableRule:
    where = f"callerInput.variables.{name}"
    if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name) or name == "prompt":
        raise invalid_persona(
            f"declares a variable {str(name)[:64]!r}: names are letters, digits and _, not prompt"
        )
    if not isinstance(rule, Mapping):
        raise invalid_persona(f"has {where} that is not an object")
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise invalid_persona(f"has {where} keys it does not know: {', '.join(sorted(unknown))}")
    max_chars, pattern, enum, claim = (rule.get(key) for key in ("maxChars", "pattern", "enum", "claim"))
    if max_chars is not None and not is_positive_int(max_chars):
        raise invalid_persona(f"has {where}.maxChars that is not a whole number above 0")
    if enum is not None and (
        not isinstance(enum, list) or not enum or not all(isinstance(item, str) for item in enum)
    ):
        raise invalid_persona(f"has {where}.enum that is not a list of strings")
    if claim is not None and not is_non_empty_string(claim):
        raise invalid_persona(f"has {where}.claim that is not a claim's name")
    return VariableRule(
        max_chars=max_chars,
        pattern=_compiled(pattern, where) if pattern is not None else None,
        enum=tuple(enum) if enum is not None else None,
        claim=claim,
    )


def _compiled(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise invalid_persona(f"has {where}.pattern that is not a string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise invalid_persona(f"has {where}.pattern that is not a Python regular expression: {exc}") from exc


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def is_non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def invalid_persona(problem: str) -> TokenVendorError:
    """A stored persona that cannot be used: the operator's to fix."""
    return TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"persona parameter {problem}")
