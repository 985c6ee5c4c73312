"""The one place that reads input files and checks input values, so every bad input ends
in the same way: one line naming the file, the field and what is expected (InputError).

- read_text: a path that is missing, a directory, a device, unreadable, too large,
  binary or not UTF-8;
- parse: malformed or absurdly nested TOML, YAML or JSON;
- number / integer: NaN, infinity, booleans, lists, and values outside a documented range;
- known_keys: a misspelt key, with the nearest valid one suggested."""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scope_opt.errors import InputError

MAX_INPUT_BYTES = 64 * 2**20  # no network, instance or mapping description is anywhere near this


def read_text(path: str | Path, expected: str) -> str:
    """The text of a UTF-8 file, or an InputError saying what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "(file)", f"file not found; expected {expected}")
    if path.is_dir():
        raise InputError(path, "(file)", f"is a directory; expected {expected}")
    if not path.is_file():
        raise InputError(path, "(file)", f"is not a regular file (a device or a pipe); expected {expected}")
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(path, "(file)", f"is {size} bytes, more than {MAX_INPUT_BYTES}; expected {expected}")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "(file)", f"cannot be read ({exc.strerror or exc}); expected {expected}") from None
    if b"\x00" in data:
        raise InputError(path, "(file)", f"is binary (holds NUL bytes); expected {expected} as UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"byte {exc.start}", f"is not UTF-8 text; expected {expected} as UTF-8 text") from None


def _strict_yaml_load(text: str) -> Any:
    """YAML's safe loader, stricter: a duplicate key or an alias (the way to build a
    'billion laughs' bomb; no description needs one) is an error, not a silent choice.
    With libyaml (PyYAML's wheels have it) the C parser reads the text, about 6x faster
    on the bundled models (0.06 s less per command for ResNet-152): a scan of its events
    refuses aliases first, then the C loader builds the data."""
    import yaml

    class NoDuplicates:
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {str(key)[:60]!r}",
                                                            key_node.start_mark)
                seen.add(key) if isinstance(key, (str, int, float, bool)) else None
            return super().construct_mapping(node, deep)

    def refuse_alias(mark):
        raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not accepted", mark)

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        for event in yaml.parse(text, Loader=fast):
            if isinstance(event, yaml.AliasEvent):
                refuse_alias(event.start_mark)
        return yaml.load(text, Loader=type("StrictLoader", (NoDuplicates, fast), {}))  # noqa: S506 (safe loader)

    class StrictLoader(NoDuplicates, yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                refuse_alias(self.peek_event().start_mark)
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def _too_deep(path: str | Path, kind: str) -> InputError:
    return InputError(path, "(file)", f"is nested too deeply to be a {kind.upper()} description; expected a flat document")


def parse(path: str | Path, text: str, kind: str) -> Any:
    """TOML, YAML or JSON text as Python data; malformed or too deeply nested -> InputError.
    TOML refuses duplicate keys itself; YAML is read by a loader that refuses them and
    aliases too."""
    import yaml
    try:
        if kind == "toml":
            return tomllib.loads(text)
        if kind == "json":
            return json.loads(text)
        return _strict_yaml_load(text)
    except RecursionError:
        raise _too_deep(path, kind) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, "(file)", f"malformed TOML ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"line {exc.lineno}", f"malformed JSON ({exc.msg})") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", None) or exc):  # libyaml's own depth limit
            raise _too_deep(path, kind) from None
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise InputError(path, where, f"malformed YAML ({getattr(exc, 'problem', None) or exc})") from None


def number(value: Any, src: str, field: str, low: float, high: float, *, integer: bool = False,
           low_open: bool = False) -> Any:
    """A finite number (an integer when `integer`) in [low, high] ((low, high] when
    `low_open`), or an InputError naming the range."""
    lo = "(" if low_open else "["
    what = f"{'an integer' if integer else 'a finite number'} in {lo}{low:g}, {high:g}]"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise InputError(src, field, f"expected {what}, got {value!r}")
    if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
        raise InputError(src, field, f"expected {what}, got {value!r}")
    return value


def text_value(value: Any, src: str, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(src, field, f"expected a non-empty string, got {value!r}")
    return value


def known_keys(table: dict, allowed: Iterable[str], src: str, where: str) -> None:
    """Refuse a key that is not in `allowed`, naming the nearest valid one."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5) or \
                difflib.get_close_matches(str(key).lower(), [a.lower() for a in allowed], n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InputError(src, f"{where}{key}", f"unknown key; {hint}expected one of {', '.join(allowed)}")


# Command-line options: (low, high, integer, low excluded); one check for every command.
OPTION_RANGES = {
    "--time-limit": (0, 1e6, False, True),
    "--threads": (1, 256, True, False),
    "--seed": (0, 2**31 - 1, True, False),
    "--gap": (0, 1, False, False),
    "--samples": (0, 10**7, True, False),
    "--max-mappings": (1, 10**9, True, False),
}


def check_options(**values: Any) -> None:
    """Each keyword is an option name with '_' for '-' (time_limit=...); None is skipped."""
    for key, value in values.items():
        if value is None:
            continue
        option = "--" + key.replace("_", "-")
        low, high, integer, low_open = OPTION_RANGES[option]
        number(value, "(arguments)", option, low, high, integer=integer, low_open=low_open)
        if option == "--gap" and value >= 1:
            raise InputError("(arguments)", option, f"expected a relative gap in [0, 1), got {value!r}")
