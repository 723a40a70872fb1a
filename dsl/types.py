"""The flow language's value types (static) and the rules for mixing them."""

from __future__ import annotations

from dataclasses import dataclass

from dsl.ast import TypeRef


@dataclass(frozen=True, slots=True)
class Type:
    name: str
    arg: Type | None = None
    fields: tuple[tuple[str, Type], ...] | None = None  # records with known fields

    def __str__(self) -> str:
        if self.name == "list" and self.arg is not None:
            return f"list[{self.arg}]"
        return self.name

    def field(self, name: str) -> Type | None:
        if self.fields is None:
            return ANY if self.name in ("record", "any") else None
        for k, t in self.fields:
            if k == name:
                return t
        return None


TEXT = Type("text")
INT = Type("int")
DECIMAL = Type("decimal")
BOOL = Type("bool")
DURATION = Type("duration")
TIME = Type("time")
DATE = Type("date")
DATETIME = Type("datetime")
RECORD = Type("record")
ANY = Type("any")
NONE = Type("none")
CALENDAR = Type("calendar", fields=(("open", Type("bool")), ("holiday", Type("bool")),
                                    ("special", Type("bool"))))


def list_of(t: Type) -> Type:
    return Type("list", t)


def record_of(fields: dict[str, Type]) -> Type:
    return Type("record", fields=tuple(fields.items()))


SCALARS: dict[str, Type] = {
    "text": TEXT, "int": INT, "decimal": DECIMAL, "money": DECIMAL, "bool": BOOL,
    "duration": DURATION, "time": TIME, "date": DATE, "datetime": DATETIME,
    "record": RECORD, "any": ANY,
}


def from_ref(ref: TypeRef) -> Type | None:
    """The type a declaration names, or None if the name is unknown."""
    if ref.name == "list":
        inner = from_ref(ref.arg) if ref.arg is not None else ANY
        return None if inner is None else list_of(inner)
    if ref.arg is not None:
        return None
    return SCALARS.get(ref.name)


def assignable(src: Type, dst: Type) -> bool:
    """Can a value of type ``src`` be stored where ``dst`` is expected?"""
    if src == dst or ANY in (src, dst):
        return True
    if src.name == "record" and dst.name == "record":
        return True
    if src == INT and dst == DECIMAL:
        return True
    if src.name == "list" and dst.name == "list":
        return src.arg is None or dst.arg is None or assignable(src.arg, dst.arg)
    return False


def is_numeric(t: Type) -> bool:
    return t in (INT, DECIMAL, ANY)


def join(a: Type, b: Type) -> Type | None:
    """The common type of two values (for lists, comparisons)."""
    if assignable(a, b):
        return b if a != ANY else a
    if assignable(b, a):
        return a
    return None
