"""FreeSWITCH's expansion of ``${...}`` in application arguments, as the switch does it.

FreeSWITCH expands every application argument before the application runs
(``switch_core_session_execute_application``), and ``set`` expands its value once more. The rules
are those of ``switch_channel_expand_variables``:

* text without ``${`` and without the escapes ``\\$`` / ``\\'`` is returned unchanged (so a
  lone backslash stays a backslash);
* ``\\$`` is a literal ``$`` (a ``$`` right after it is dropped: ``\\$$`` is one ``$``),
  ``\\\\`` a literal backslash, and ``\\'`` vanishes;
* ``${name}`` is the channel variable (empty when unset), ``$${name}`` the global one;
* ``${api(args)}`` runs the API command ``api`` with the expanded ``args`` and inserts its output
  — which is why text from callers must be escaped (:func:`coreswitch.esl.command.literal`);
* ``$`` followed by anything else is a literal ``$``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Lookup = Callable[[str], "str | None"]
RunApi = Callable[[str, str], Awaitable[str]]


def needs_expansion(text: str) -> bool:
    return "${" in text or "\\$" in text or "\\'" in text


async def expand(text: str, lookup: Lookup, run_api: RunApi,  # noqa: PLR0912
                 global_lookup: Lookup | None = None, depth: int = 0) -> str:
    """``text`` expanded (see the module docstring)."""
    if depth > 100 or not needs_expansion(text):
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
                if i < n and text[i] == "$":
                    i += 1
                continue
            if following == "'":
                i += 2
                continue
            if following == "\\":
                out.append("\\")
                i += 2
                continue
        if c == "$":
            j = i + 1
            is_global = j < n and text[j] == "$"
            if is_global:
                j += 1
            if j < n and text[j] == "{":
                depth_b, k = 1, j + 1
                while k < n and depth_b:
                    if text[k] == "{":
                        depth_b += 1
                    elif text[k] == "}":
                        depth_b -= 1
                    k += 1
                if depth_b:  # unterminated: FreeSWITCH logs an error; keep the rest as is
                    out.append(text[i:])
                    break
                name = text[j + 1:k - 1]
                out.append(await _value(name, is_global, lookup, run_api,
                                        global_lookup=global_lookup, depth=depth))
                i = k
                continue
            out.append("$")
            i = j if is_global else i + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


async def _value(name: str, is_global: bool, lookup: Lookup, run_api: RunApi, *,
                 global_lookup: Lookup | None, depth: int) -> str:
    if "$" in name:
        name = await expand(name, lookup, run_api, global_lookup, depth + 1)
    if is_global:
        return (global_lookup(name) if global_lookup else None) or ""
    if "(" in name:
        func, _, rest = name.partition("(")
        level, end = 1, len(rest)
        for pos, ch in enumerate(rest):
            if ch == "(":
                level += 1
            elif ch == ")":
                level -= 1
                if level == 0:
                    end = pos
                    break
        args = await expand(rest[:end], lookup, run_api, global_lookup, depth + 1)
        return await run_api(func.strip(), args)
    value = lookup(name)
    if value is None and global_lookup is not None:
        value = global_lookup(name)
    return value or ""
