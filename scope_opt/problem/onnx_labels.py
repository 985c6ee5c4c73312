"""Axis labels of ONNX data tensors, followed through Reshape, Flatten, Transpose,
Unsqueeze and Squeeze, so that the token operators (onnx_tokens.py) see what each axis
holds whatever order an exporter writes the axes in.

Labels: n (batch), c (channels, or a token's features), y, x (rows, columns), yx
(positions flattened, not yet tokens), t (tokens), s (the key tokens of attention's
scores), h (heads), e (a head's features), 3 (the Q, K, V parts of a fused projection),
1 (an axis of size 1).  A tensor without an entry in `imp.view` has its natural labels:
(n, c, y, x) at rank 4, (n, t, c) at rank 3, (n, c) at rank 2."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scope_opt.errors import InputError
from scope_opt.problem.onnx_graph import _constant

if TYPE_CHECKING:
    from scope_opt.problem.onnx_import import _Importer

NATURAL = {4: ("n", "c", "y", "x"), 3: ("n", "t", "c"), 2: ("n", "c"), 1: ("c",)}
MERGED = {("h", "e"): "c", ("y", "x"): "yx", ("n", "h"): "h",  # adjacent labels a Reshape joins
          ("Y", "X"): "w", ("Y", "y"): "y", ("X", "x"): "x"}  # windows: their grid, rows and columns back
SPLITS = {"yx": ("y", "x"), "y": ("Y", "y"), "x": ("X", "x"), "w": ("Y", "X"), "p": ("y", "x")}  # one axis into two


def labels(imp: _Importer, tensor: str) -> tuple[str, ...]:
    if tensor in imp.view:
        return imp.view[tensor]
    return NATURAL.get(len(imp.shapes.get(tensor) or ()), ())


def core(lab: tuple[str, ...], shape) -> tuple[str, ...]:
    """The labels of the axes larger than 1 (batch, unit axes dropped)."""
    return tuple(a for a, d in zip(lab, shape or [None] * len(lab)) if a not in ("n", "1") and d != 1)


def is_natural(lab: tuple[str, ...], shape) -> bool:
    """The natural labels of its rank, up to axes of size 1."""
    want = NATURAL.get(len(lab))
    return want is not None and (lab == want or core(lab, shape) == core(want, shape))


def set_labels(imp: _Importer, tensor: str, lab: tuple[str, ...]) -> None:
    if is_natural(lab, imp.shapes.get(tensor)):
        imp.view.pop(tensor, None)
    else:
        imp.view[tensor] = lab


def passes_on(imp: _Importer, node, src: str) -> None:
    """A folded node: its output is its input; Unsqueeze and Squeeze add or drop unit axes."""
    imp.ref[node.output[0]] = imp.ref[src]
    lab = list(labels(imp, src))
    out = imp.shapes.get(node.output[0])
    if node.op_type in ("Unsqueeze", "Squeeze") and out is not None:
        axes = _axes(imp, node)
        if node.op_type == "Unsqueeze" and axes is not None:
            for a in sorted(x % len(out) for x in axes):
                lab.insert(a, "1")
        elif node.op_type == "Squeeze":
            shape = imp.shapes.get(src) or []
            drop = {x % len(shape) for x in axes} if axes is not None else {i for i, d in enumerate(shape) if d == 1}
            lab = [a for i, a in enumerate(lab) if i not in drop]
    set_labels(imp, node.output[0], tuple(lab))


def _axes(imp: _Importer, node):
    attr = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
    if attr is None and len(node.input) > 1 and node.input[1]:
        attr = _constant(imp.g, node.input[1])
    return attr if attr is None or isinstance(attr, list) else [attr]


def natural(imp: _Importer, node, tensors: list[str]) -> None:
    """A conv, pool or channel concatenation reads [N, C, H, W] as it is."""
    for t in tensors:
        lab = labels(imp, t)
        if t in imp.view and not is_natural(lab, imp.shapes.get(t)):
            raise InputError(imp.path, imp.where(node), f"reads {t!r} with its axes laid out as {_text(lab)}; expected "
                                                        "[N, C, H, W] (a Transpose or Reshape scope-opt cannot follow "
                                                        "comes before it)")


def _text(lab) -> str:
    return "[" + ", ".join(lab) + "]"


def transpose(imp: _Importer, node, data: list[str], a: dict) -> None:
    lab, perm = labels(imp, data[0]), list(a.get("perm", ()))
    if len(perm) != len(lab):
        raise InputError(imp.path, imp.where(node), f"transposes a tensor of unknown rank by perm {perm}; expected a "
                                                    "tensor whose shape ONNX's shape inference knows")
    imp.ref[node.output[0]] = imp.ref[data[0]]  # a concatenation too: a channel shuffle reads one
    set_labels(imp, node.output[0], tuple(lab[p] for p in perm))


def _reshaped(imp: _Importer, node, lab, inp, out) -> tuple[str, ...]:
    if not inp or not out or any(not isinstance(d, int) for d in (*inp, *out)) or len(lab) != len(inp):
        if lab == NATURAL.get(len(lab)):  # a flatten before an fc, shapes unknown: nothing to follow
            return NATURAL.get(len(out or ()), ())
        raise InputError(imp.path, imp.where(node), f"reshapes a tensor laid out as {_text(lab)} to a shape ONNX's shape "
                                                    f"inference does not know ({out}); expected known shapes")
    groups_in = [(a, d) for a, d in zip(lab, inp) if d != 1]
    result, i = [], 0
    for j, d in enumerate(out):
        if d == 1:
            result.append("1")
            continue
        if i < len(groups_in) and groups_in[i][1] == d:
            result.append(groups_in[i][0])
            i += 1
            continue
        size, merged = 1, []
        while i < len(groups_in) and size < d:
            size *= groups_in[i][1]
            merged.append(groups_in[i][0])
            i += 1
        if size == d and len(merged) > 1:
            result.append(_merge(imp, node, tuple(merged), groups_in[i][0] if i < len(groups_in) else None))
            continue
        return _split(imp, node, lab, inp, out)
    return tuple(result)


def _merge(imp: _Importer, node, parts: tuple[str, ...], following: str | None) -> str:
    if parts == ("y", "x") and following == "c":  # channels-last pixels listed: a window's positions
        return "p"
    if parts in MERGED:
        return MERGED[parts]
    if parts == ("e", "h"):  # channels split into groups, transposed, merged back: ShuffleNet's channel shuffle
        return "shuffle"
    if parts[-1] == "c" and all(p in ("y", "x", "yx") for p in parts[:-1]) or parts[0] == "c":
        return "cyx" if parts[0] == "c" else "yxc"  # an fc reads it flattened
    raise InputError(imp.path, imp.where(node), f"makes axes {_text(parts)} merged into one; scope-opt follows the heads of attention, patches as "
                                                "tokens and channels-last layouts only")


def _split(imp: _Importer, node, lab, inp, out) -> tuple[str, ...]:
    """Axes into runs of adjacent axes, by their sizes: features into (heads, per-head
    features), into the (3, features) or (3, heads, features) of a fused Q, K, V
    projection; positions back into rows and columns; rows, columns and windows into a
    window grid and the positions in a window (Swin's window partition and its reverse)."""
    big_in = [(a, d) for a, d in zip(lab, inp) if d != 1]
    big_out = [d for d in out if d != 1]
    new, j = [], 0
    for name, d in big_in:
        run, size = [], 1
        while j < len(big_out) and size < d:
            size *= big_out[j]
            run.append(big_out[j])
            j += 1
        parts = _parts(name, run) if size == d else None
        if parts is None:
            raise InputError(imp.path, imp.where(node), f"reshapes {inp} (axes {_text(lab)}) to {out}; expected axes "
                                                        "merged, features split into heads, or rows and columns into windows")
        new += parts
    it = iter(new)
    return tuple("1" if x == 1 else next(it) for x in out)


def _parts(name: str, run: list[int]) -> tuple[str, ...] | None:
    if len(run) == 1:
        return (name,)
    if name == "c":
        return {2: ("3", "c") if run[0] == 3 else ("h", "e"), 3: ("3", "h", "e") if run[0] == 3 else None}.get(len(run))
    return SPLITS.get(name) if len(run) == 2 else None
