"""Building blocks of the input schema (pydantic v2): value types, field metadata, lookups.

Every input the package takes (model parameters, providers, segments, the network, dated
events, sweep and calibration files) is a frozen :class:`Frozen` model whose fields are made
with :func:`param`: each carries its unit, closed range, meaning and the source or rationale of
its default. :func:`describe` reads them back as :class:`FieldDoc` rows, the one source of the
ODD parameter table, the visualization's sliders and the command line's help; the same
metadata appears in the JSON Schema (``python -m sim schema``) as ``minimum``, ``maximum``,
``description``, ``unit`` and ``source``.

Value types accept what a user or a program naturally passes and nothing else: numbers are
Python or NumPy integers and floats (never strings or booleans) and must be finite; whole
numbers also accept integral floats (``2.0``, as a ``[low, high]`` range produces); flags are
``true``/``false`` only; names are 1 to 64 letters, digits, ``-`` or ``_``.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as _ValidationError
from pydantic_core import PydanticCustomError

from sim.errors import format_validation_error

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def _number(value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise PydanticCustomError(
            "number_type", "expected a number, got {kind}", {"kind": type(value).__name__}
        )
    if isinstance(value, np.complexfloating):
        raise PydanticCustomError("number_type", "expected a real number", {})
    out = float(value)
    if not math.isfinite(out):
        raise PydanticCustomError("finite_number", "expected a finite number", {})
    return out


def _whole(value: Any) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return int(value)
    number = _number(value)
    if not number.is_integer():
        raise PydanticCustomError("whole_number", "expected a whole number", {})
    return int(number)


def _flag(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise PydanticCustomError("bool_type", "expected true or false", {})


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "expected a string", {})
    return value


Number = Annotated[float, BeforeValidator(_number)]
Whole = Annotated[int, BeforeValidator(_whole)]
Flag = Annotated[bool, BeforeValidator(_flag)]
# the pattern before the validator, so that it also reaches the JSON Schema
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN), BeforeValidator(_text)]


def file_form(node: Any) -> Any:
    """A JSON Schema as a TOML file can meet it: no ``null`` (TOML has none), and the
    ``minimum``/``maximum`` keywords where pydantic left its own ``ge``/``le`` (it does for
    optional numbers)."""
    if isinstance(node, list):
        return [file_form(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        key = {"ge": "minimum", "le": "maximum"}.get(key, key)
        out[key] = file_form(value)
    options = out.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            del out["anyOf"]
            out.update(kept[0])
        else:
            out["anyOf"] = kept
    if out.get("default", 0) is None:
        del out["default"]
    return out


def param(
    default: Any,
    *,
    unit: str,
    meaning: str,
    source: str,
    low: float | None = None,
    high: float | None = None,
) -> Any:
    """A field with its documentation: unit, closed range ``[low, high]``, meaning, source."""
    extra: dict[str, Any] = {"unit": unit, "source": source}
    return Field(default, ge=low, le=high, description=meaning, json_schema_extra=extra)


class Frozen(BaseModel):
    """Base of every input model: immutable, unknown keys refused, and validation errors raised
    as one-line :class:`~sim.errors.InputError` naming the field's full path."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except _ValidationError as exc:
            raise format_validation_error(exc, type(self), data) from None

    def replace(self, **changes: Any) -> typing.Self:
        """A validated copy with ``changes`` applied (field names of this model)."""
        return type(self).parse({**self.model_dump(), **changes})

    @classmethod
    def parse(cls, data: Any, prefix: str = "") -> typing.Self:
        """Validate ``data`` (a mapping), errors prefixed by ``prefix``."""
        try:
            return cls.model_validate(data)
        except _ValidationError as exc:
            raise format_validation_error(exc, cls, data, prefix) from None


@dataclass(frozen=True)
class FieldDoc:
    """What :func:`describe` says of one field."""

    name: str
    kind: str  # number | whole | flag | choice | name | names | choices | table | tables | text
    unit: str
    low: float | None
    high: float | None
    choices: tuple[str, ...] | None
    meaning: str
    source: str
    default: Any
    required: bool


def _kind(annotation: Any) -> tuple[str, tuple[str, ...] | None, type[BaseModel] | None]:
    """(kind, choices, nested model) of a field annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        kind, options, nested = _kind(base)
        if kind == "text" and any(isinstance(m, StringConstraints) for m in meta):
            return "name", None, None
        if kind == "float" and any(
            isinstance(m, BeforeValidator) and m.func is _whole for m in meta
        ):
            return "whole", None, None
        return kind, options, nested
    if origin is Literal:
        return "choice", tuple(str(a) for a in get_args(annotation)), None
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _kind(members[0])
    if origin is tuple:
        _, _, nested = _kind(get_args(annotation)[0])
        if nested is not None:
            return "tables", None, nested
        options = _kind(get_args(annotation)[0])[1]
        return ("choices" if options else "names"), options, None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table", None, annotation
    if annotation is bool:
        return "flag", None, None
    if annotation is int:
        return "whole", None, None
    if annotation is float:
        return "number", None, None
    if annotation is str:
        return "text", None, None
    return "other", None, None


def _doc(name: str, info: Any) -> FieldDoc:
    kind, options, _ = _kind(info.annotation)
    # Annotated metadata (Number, Whole) is folded into info.metadata by pydantic
    validators = [m for m in info.metadata if isinstance(m, BeforeValidator)]
    if any(v.func is _whole for v in validators):
        kind = "whole"
    elif any(v.func is _number for v in validators):
        kind = "number"
    elif any(v.func is _flag for v in validators):
        kind = "flag"
    elif any(isinstance(m, StringConstraints) for m in info.metadata):
        kind = "name"
    low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    required = info.is_required()
    return FieldDoc(
        name=name,
        kind=kind,
        unit=str(extra.get("unit", "-")),
        low=low,
        high=high,
        choices=options,
        meaning=info.description or "",
        source=str(extra.get("source", "")),
        default=None if required else info.default,
        required=required,
    )


def describe(model: type[BaseModel]) -> list[FieldDoc]:
    """One :class:`FieldDoc` per field of ``model``, in declaration order."""
    return [_doc(name, info) for name, info in model.model_fields.items()]


def nested_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The model class of field ``name`` when it is a table or a list of tables."""
    info = model.model_fields.get(name)
    return None if info is None else _kind(info.annotation)[2]


def model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class reached by walking ``loc`` (field names and list indices)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        if part not in current.model_fields:
            return None
        current = nested_model(current, part)
    return current


def field_info_at(model: type[BaseModel], loc: Sequence[str | int]) -> FieldDoc | None:
    """The :class:`FieldDoc` of the field at ``loc``, or None."""
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    owner = model_at(model, loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    if owner is None or names[-1] not in owner.model_fields:
        return None
    return _doc(names[-1], owner.model_fields[names[-1]])
