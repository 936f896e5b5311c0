"""Repairing the broken JSON some firmware writes, one named fix at a time.

Only called when a frame is not valid JSON, so valid frames pay nothing. The repair is a single
pass over the characters that knows whether it is inside a string, so a comma or an apostrophe
inside a string value is never touched. Fixes:

* `trailing_commas`: `{"a": 1,}` and `[1, 2,]` lose the comma.
* `single_quotes`: `{'a': 'it\\'s'}` becomes `{"a": "it's"}`.
* `non_finite_numbers`: bare `NaN`, `Infinity`, `-Infinity` become `null` (JSON has no such
  numbers; null then fails the schema where a number is required, which is the honest outcome).
* `python_literals`: bare `True`, `False`, `None` become `true`, `false`, `null`.
"""

from __future__ import annotations

from collections.abc import Collection

FIXES = ("trailing_commas", "single_quotes", "non_finite_numbers", "python_literals")

_BARE = {
    "NaN": ("null", "non_finite_numbers"),
    "Infinity": ("null", "non_finite_numbers"),
    "-Infinity": ("null", "non_finite_numbers"),
    "True": ("true", "python_literals"),
    "False": ("false", "python_literals"),
    "None": ("null", "python_literals"),
}
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+.")


def repair(text: str, fixes: Collection[str] = FIXES) -> tuple[str, list[str]]:
    """`text` with the enabled fixes applied, and the names of those that changed something."""
    out: list[str] = []
    used: list[str] = []
    i, n = 0, len(text)

    def note(fix: str) -> None:
        if fix not in used:
            used.append(fix)

    while i < n:
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i, '"')
            out.append(text[i:end])
            i = end
        elif ch == "'" and "single_quotes" in fixes:
            end = _string_end(text, i, "'")
            body = text[i + 1 : end - 1] if end - 1 > i else text[i + 1 : end]
            out.append('"' + _requote(body) + '"')
            note("single_quotes")
            i = end
        elif ch == "," and "trailing_commas" in fixes:
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                note("trailing_commas")
            else:
                out.append(ch)
            i += 1
        elif ch in _WORD_CHARS:
            j = i
            while j < n and text[j] in _WORD_CHARS:
                j += 1
            word = text[i:j]
            replacement = _BARE.get(word)
            if replacement is not None and replacement[1] in fixes:
                out.append(replacement[0])
                note(replacement[1])
            else:
                out.append(word)
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out), used


def _string_end(text: str, start: int, quote: str) -> int:
    """Index just after the closing quote of the string opening at `start` (or the end)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _requote(body: str) -> str:
    """A single-quoted string's body, escaped for double quotes."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append("'" if nxt == "'" else ch + nxt)
            i += 2
            continue
        out.append('\\"' if ch == '"' else ch)
        i += 1
    return "".join(out)
