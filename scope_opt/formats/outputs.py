"""The one place that writes outputs: paths are checked before the work starts, files are
written atomically (a temporary file, then a rename), and JSON is always valid JSON
(a NaN or an infinity becomes null)."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from scope_opt.errors import InputError


def check_output_path(path: str | Path | None, option: str, suffixes: tuple[str, ...] | None = None,
                      allow_stdout: bool = False) -> None:
    """Refuse, before any work, an output path that is a directory, whose folder does not
    exist or is not writable, or whose suffix the writer cannot produce."""
    if path is None or (allow_stdout and str(path) == "-"):
        return
    p = Path(path)
    if p.is_dir():
        raise InputError(p, option, "is a directory; expected a file path")
    if suffixes is not None and not any(p.name.endswith(s) for s in suffixes):
        raise InputError(p, option, f"cannot write this kind of file here; expected a name ending in {' or '.join(suffixes)}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(p, option, f"folder {folder} does not exist; expected a path in an existing folder")
    if (p.exists() and not os.access(p, os.W_OK)) or not _takes_new_files(folder):
        raise InputError(p, option, f"is not writable (folder {folder} takes no new file); expected a path you may write")


def _takes_new_files(folder: Path) -> bool:
    """Whether `folder` accepts a new file, tested the way the write will do it: create a
    probe file beside the target and remove it (os.access says yes for /proc or a
    read-only mount)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".scope-opt-probe.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return True


SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def safe_name(name: str, src: str | Path, field: str) -> str:
    """A name that is to become part of a file name: letters, digits, '.', '_' and '-',
    starting with a letter or digit, so it never picks a path outside its folder."""
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name or len(name) > 200:
        raise InputError(src, field, f"{str(name)[:80]!r} cannot name a file; expected letters, digits, '.', '_' and '-', "
                                     "starting with a letter or digit (no '/', no '..')")
    return name


def check_no_overwrite(path: str | Path, option: str, force: bool) -> None:
    """Nothing is overwritten without --force."""
    if not force and Path(path).exists():
        raise InputError(path, option, "exists already; pass --force to overwrite it, or choose another path")


def check_output_folder(path: str | Path, option: str) -> None:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(p, option, "is a file; expected a folder (it is created if missing)")
    probe = p if p.exists() else next((q for q in p.parents if q.exists()), Path("."))
    if not probe.is_dir() or not _takes_new_files(probe):
        raise InputError(p, option, f"is not writable ({probe} takes no new file); expected a folder you may write")


def _umask_mode() -> int:
    """The mode a plain open() would give a new file: 0666 less the umask (mkstemp's own
    files are 0600, unreadable to the group on a shared file system)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic(path: Path, write, suffix: str) -> None:
    """`write(tmp)` to a temporary file beside `path`, made with the umask's mode, then
    renamed over `path`: never a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write text atomically (a temporary file, then a rename)."""
    _atomic(Path(path), lambda tmp: Path(tmp).write_text(text), ".tmp")


def json_safe(value: Any) -> Any:
    """A copy of `value` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(payload: Any, **kw) -> str:
    return json.dumps(json_safe(payload), allow_nan=False, default=str, **kw)


def write_json(target: str | Path | None, payload: dict) -> None:
    """`target` '-' is standard output; anything else is written atomically."""
    if target is None:
        return
    text = dumps(payload, indent=1)
    if str(target) == "-":
        sys.stdout.write(text + "\n")
    else:
        write_text_atomic(Path(target), text + "\n")


def save_figure(fig, path: str | Path, **kw) -> None:
    """matplotlib's savefig, atomically (the format is taken from `path`'s suffix)."""
    path = Path(path)
    _atomic(path, lambda tmp: fig.savefig(tmp, **kw), path.suffix)


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def instance_toml(raw: dict) -> str:
    """A generated instance as TOML text (tomllib reads, it does not write)."""
    top = [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    out = top[:]
    for section, table in raw.items():
        if isinstance(table, dict):
            out.append(f"\n[{section}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
            for sub, inner in table.items():
                if isinstance(inner, dict):
                    out.append(f"\n[{section}.{sub}]")
                    out += [f"{k} = {_toml_value(v)}" for k, v in inner.items()]
    return "\n".join(out) + "\n"
