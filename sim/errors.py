"""One-line input errors, and the one TOML reader every input file goes through.

Every mistake in user input (a parameter, a scenario or sweep file, an event, a command-line
option) becomes an :class:`InputError`: a ``ValueError`` whose message is one line naming the
field by its full path (``providers[partner-cloud].margin``, ``events[2].set.home_fine``), the
value given and what is allowed. The command line prints it after ``error:`` and exits with
code 2. :func:`format_validation_error` turns pydantic's errors into that line.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

MAX_INPUT_BYTES = 1 << 20
"""Largest input file read (1 MiB): a scenario or sweep file is a few kilobytes."""


class InputError(ValueError):
    """Bad input, reported in one line (exit code 2 on the command line).

    ``path`` is the field's full path when the error is about one field, and ``detail`` the
    rest of the line after it (``=value: what is allowed``), so a caller can re-anchor the
    error at another path (an event's ``events[2].set.home_fine``)."""

    def __init__(self, message: str, *, path: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.detail = detail

    def at(self, path: str) -> InputError:
        """The same error reported at ``path``: re-anchored when it names one field, else
        prefixed."""
        if self.path and self.detail:
            return InputError(f"{path}{self.detail}", path=path, detail=self.detail)
        return InputError(f"{path}: {self}", path=path)


def field_error(path: str, value: Any, allowed: str) -> InputError:
    """``path=value: allowed``, as one :class:`InputError` that knows its field."""
    detail = f"={short_repr(value)}: {allowed}"
    return InputError(f"{path}{detail}", path=path, detail=detail)


def unknown_choice(what: str, key: str, valid: Iterable[str]) -> InputError:
    """``<what> 'key'; did you mean 'x'? (valid: a, b, ...)``, the closest valid name offered
    when one is close (:func:`difflib.get_close_matches`)."""
    choices = [str(c) for c in valid]
    close = difflib.get_close_matches(str(key), choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(choices) if len(choices) <= 60 else ", ".join(choices[:60]) + ", ..."
    return InputError(f"{what} {str(key)!r}{hint} (valid: {shown})")


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a huge value keeps the message one line."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_path(parts: Sequence[str | int], data: Any) -> str:
    """A field's full path from a pydantic location, naming list items by their ``name``
    where the input gives one: ``("providers", 1, "margin")`` gives
    ``providers[partner-cloud].margin``."""
    out = ""
    node = data
    for part in parts:
        if isinstance(part, int):
            label: str | int = part
            item = node[part] if isinstance(node, Sequence) and 0 <= part < len(node) else None
            if isinstance(item, Mapping) and isinstance(item.get("name"), str) and item["name"]:
                label = item["name"]
            elif isinstance(item, BaseModel) and isinstance(getattr(item, "name", None), str):
                label = item.name  # type: ignore[attr-defined]
            out += f"[{label}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            if isinstance(node, Mapping):
                node = node.get(part)
            elif isinstance(node, BaseModel):
                node = getattr(node, part, None)
            else:
                node = None
    return out


def _field_bounds(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[Any, Any] | None:
    """The ``[low, high]`` declared for the field at ``loc`` (walking nested models)."""
    from sim.schema import field_info_at  # local: schema imports this module

    info = field_info_at(model, loc)
    if info is None:
        return None
    return info.low, info.high


def _field_choices(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[str, ...] | None:
    from sim.schema import field_info_at

    info = field_info_at(model, loc)
    return None if info is None else info.choices


def _valid_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    from sim.schema import model_at

    owner = model_at(model, loc[:-1])
    return None if owner is None else list(owner.model_fields)


def _describe(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    """What is allowed, for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = error["loc"]
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = _field_bounds(model, loc)
        if bounds is not None:
            return f"expected a value in [{bounds[0]}, {bounds[1]}]"
    if kind == "literal_error":
        info = _field_choices(model, loc)
        options = ", ".join(repr(c) for c in info) if info else ctx.get("expected", "")
        return f"expected one of {options}"
    if kind in ("tuple_type", "list_type"):
        return "expected a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a table of fields"
    if kind == "string_type":
        return "expected a string"
    if kind == "bool_type":
        return "expected true or false"
    if kind == "string_pattern_mismatch":
        return (
            "expected a name of 1 to 64 letters, digits, '-' or '_', starting with a letter "
            "or digit"
        )
    if kind == "missing":
        return "missing required key"
    message = str(error.get("msg", kind))
    return message.removeprefix("Value error, ")


def format_validation_error(
    exc: ValidationError, model: type[BaseModel], data: Any, prefix: str = ""
) -> InputError:
    """The first of pydantic's errors as one :class:`InputError` line.

    ``data`` is the input that was validated (to name list items by their ``name``); ``prefix``
    is prepended to the path (``events[2].set.``)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    path = prefix + join_path(loc, data) if loc else prefix.rstrip(".")
    kind = error["type"]
    if kind == "value_error" and isinstance((error.get("ctx") or {}).get("error"), InputError):
        inner: InputError = error["ctx"]["error"]
        if not path:
            return inner
        if inner.path:  # a field of the model at ``path``: join the paths
            return InputError(
                f"{path}.{inner.path}{inner.detail}",
                path=f"{path}.{inner.path}",
                detail=inner.detail,
            )
        return InputError(f"{path}: {inner}", path=path)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        owner = prefix + join_path(loc[:-1], data)
        where = f"{owner}: unknown key" if owner else "unknown key"
        valid = _valid_keys(model, loc) or []
        return unknown_choice(where, key, valid)
    if kind == "missing":
        owner = prefix + join_path(loc[:-1], data)
        where = f"{owner}: " if owner else ""
        return InputError(f"{where}missing required key {str(loc[-1])!r}")
    detail = f"={short_repr(error.get('input'))}: {_describe(error, model)}"
    if not path:
        return InputError(detail.removeprefix("="))
    return InputError(f"{path}{detail}", path=path, detail=detail)


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a TOML input file, with one-line errors: missing or unreadable, not a regular
    file (a FIFO or device would block or never end), larger than :data:`MAX_INPUT_BYTES`, not
    UTF-8, malformed, or nested too deeply for the parser."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: cannot read {what} (not a regular file)")
    if info.st_size > MAX_INPUT_BYTES:
        raise InputError(
            f"{path}: cannot read {what} ({info.st_size} bytes; expected at most "
            f"{MAX_INPUT_BYTES} bytes)"
        )
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"{path}: cannot read {what} (more than {MAX_INPUT_BYTES} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: cannot read {what} (not UTF-8: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    return parse_toml(text, f"{path}")


def parse_toml(text: str, origin: str) -> dict[str, Any]:
    """``tomllib.loads`` with one-line errors prefixed by ``origin``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: malformed TOML ({exc})") from None
    except RecursionError:
        raise InputError(f"{origin}: malformed TOML (arrays or tables nested too deeply)") from None


def is_regular_or_absent(path: Path) -> bool:
    """True when ``path`` does not exist or is a regular file (not a symlink, FIFO, device
    or directory): the only kinds of output path the tools write."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(info.st_mode)
