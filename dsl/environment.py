"""What the world offers a flow: plugin functions, plugin verbs, extra pure functions.

The checker takes an :class:`Environment`; plugins extend it. ``functions=None`` means "the
provider set is unknown" (no plugin registry available): calls are then checked against the
flow's own ``function`` declarations only, and E209 is not reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dsl import types as T
from dsl.builtins import Builtin
from dsl.verbs import VerbSchema


@dataclass(frozen=True, slots=True)
class FunctionSig:
    """A plugin function as its provider declares it."""

    name: str
    params: tuple[tuple[str, T.Type], ...]
    returns: T.Type
    provider: str = ""

    def describe(self) -> str:
        ps = ", ".join(f"{n}: {t}" for n, t in self.params)
        return f"{self.name}({ps}) -> {self.returns}"


@dataclass(frozen=True)
class Environment:
    functions: Mapping[str, FunctionSig] | None = None
    verbs: Mapping[str, VerbSchema] = field(default_factory=dict)
    expr_functions: Mapping[str, Builtin] = field(default_factory=dict)


def parse_type(text: str) -> T.Type | None:
    """``"text"``, ``"list[text]"`` … → a Type (for providers declared in TOML)."""
    text = text.strip()
    if text.startswith("list[") and text.endswith("]"):
        inner = parse_type(text[5:-1])
        return None if inner is None else T.list_of(inner)
    return T.SCALARS.get(text)


def environment_from_mapping(data: Mapping[str, object]) -> Environment:
    """Build an environment from a providers table (the shape of providers.toml)::

        [functions."billing.balance"]
        provider = "utility-95598"
        params = { account = "text" }
        returns = "record"
    """
    funcs: dict[str, FunctionSig] = {}
    raw = data.get("functions", {})
    if isinstance(raw, Mapping):
        for name, spec in raw.items():
            if not isinstance(spec, Mapping):
                raise ValueError(f"function {name}: expected a table")
            params_raw = spec.get("params", {})
            if not isinstance(params_raw, Mapping):
                raise ValueError(f"function {name}: params must be a table")
            params = []
            for pname, ptype in params_raw.items():
                t = parse_type(str(ptype))
                if t is None:
                    raise ValueError(f"function {name}: unknown type {ptype!r}")
                params.append((str(pname), t))
            ret = parse_type(str(spec.get("returns", "any")))
            if ret is None:
                raise ValueError(f"function {name}: unknown return type")
            funcs[str(name)] = FunctionSig(str(name), tuple(params), ret,
                                           str(spec.get("provider", "")))
    return Environment(functions=funcs)
