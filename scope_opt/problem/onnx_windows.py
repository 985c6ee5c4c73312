"""Swin's layouts in ONNX: a Pad by zero, slices of rows and columns that a Concat joins
back into a cyclic shift (torch.roll, which costs nothing here) or into a space to depth
(patch merging, an unshuffle layer), and ONNX's own SpaceToDepth (docs/onnx.md).

Why a cyclic shift and the window partition are free: the layers between them are
row-wise (linear layers, LayerNorm, softmax) or attention, whose keys and values every
chiplet reads at all positions (Rows.ALL), so which positions a chiplet owns does not
change what it reads; the window reverse and the shift back restore the order before
the residual add."""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING

from scope_opt.errors import InputError
from scope_opt.problem.onnx_graph import _constant
from scope_opt.problem.onnx_labels import _text, labels, natural, passes_on, set_labels
from scope_opt.problem.onnx_layers import _Layer

if TYPE_CHECKING:
    from scope_opt.problem.onnx_import import _Importer

SPATIAL = ("y", "x")
PIECE_TEXT = "a cyclic shift (torch.roll: two slices of one axis joined) or a space to depth (Swin's patch merging: " \
             "the f x f strided slices of rows and columns joined on channels)"


def pad(imp: _Importer, node, data: list[str], a: dict) -> None:
    """A Pad by zero on every side (Swin pads to a multiple of its window, by 0 at 224) folds."""
    pads = _constant(imp.g, node.input[1]) if len(node.input) > 1 and node.input[1] else a.get("pads")
    if not isinstance(pads, list) or any(p != 0 for p in pads):
        raise InputError(imp.path, imp.where(node), f"pads by {pads if pads is not None else '(unknown amounts)'}; "
                                                    "expected a pad of zero on every side (a pad that changes the "
                                                    "shape is not supported)")
    passes_on(imp, node, data[0])
    imp.report.folded["Pad (by zero)"] += 1


def is_spatial_slice(imp: _Importer, node) -> bool:
    axes = _slice_args(imp, node)[2] if node.op_type == "Slice" else None
    lab = labels(imp, node.input[0])
    return bool(axes) and all(isinstance(x, int) and -len(lab) <= x < len(lab) and lab[x] in SPATIAL for x in axes)


def _slice_args(imp: _Importer, node) -> tuple:
    args = [_constant(imp.g, node.input[i]) if len(node.input) > i and node.input[i] else None for i in range(1, 5)]
    starts, ends, axes, steps = args
    if axes is None and isinstance(starts, list):
        axes = list(range(len(starts)))
    if steps is None and isinstance(starts, list):
        steps = [1] * len(starts)
    return starts, ends, axes, steps


def spatial_slice(imp: _Importer, node, data: list[str]) -> None:
    """Rows or columns of a tensor: the whole axis folds; a part is remembered as a piece
    of its root tensor, for the Concat that joins the pieces."""
    starts, ends, axes, steps = _slice_args(imp, node)
    shape, lab = imp.shapes.get(data[0]) or [], labels(imp, data[0])
    if not all(isinstance(v, list) for v in (starts, ends, steps)) or any(not isinstance(shape[x], int) for x in axes):
        raise InputError(imp.path, imp.where(node), "slices rows or columns by amounts ONNX's shape inference does not "
                                                    "know; expected constant starts, ends and steps")
    root, spec = imp.pieces.get(data[0], (data[0], {}))
    cut = {}
    for x, s, e, step in zip(axes, starts, ends, steps):
        x %= len(lab)
        d = shape[x]
        s, e = (min(max(v + d if v < 0 else v, 0), d) for v in (s, e))
        if (s, e, step) != (0, d, 1):
            if x in spec or step < 1:
                raise InputError(imp.path, imp.where(node), f"slices axis {x} ({lab[x]}) again or backwards; expected "
                                                            + PIECE_TEXT)
            cut[x] = (s, e, step, d)
    imp.ref[node.output[0]] = imp.ref[data[0]]
    set_labels(imp, node.output[0], lab)
    if not cut and data[0] not in imp.pieces:
        imp.report.folded["Slice (whole axis)"] += 1
        return
    imp.pieces[node.output[0]] = (root, {**spec, **cut})


def refuse_piece(imp: _Importer, node) -> None:
    raise InputError(imp.path, imp.where(node), f"reads part of the rows or columns of a tensor; scope-opt follows "
                                                f"only {PIECE_TEXT}")


def concat(imp: _Importer, node, data: list[str], a: dict) -> None:
    """Pieces of one tensor joined: a cyclic shift passes the tensor on; f x f strided
    pieces joined on channels are an unshuffle layer of factor f."""
    pieces = [imp.pieces.get(t) for t in data]
    roots = {p[0] for p in pieces if p is not None}
    if None in pieces or len(roots) != 1 or len(data) != len(node.input):
        refuse_piece(imp, node)
    root = roots.pop()
    lab = labels(imp, root)
    axis = a.get("axis", 1) % len(lab)
    specs = [p[1] for p in pieces]
    if len(specs) == 2 and all(set(s) == {axis} for s in specs):
        (s0, e0, st0, d), (s1, e1, st1, _) = specs[0][axis], specs[1][axis]
        if st0 == st1 == 1 and (e0, s1, e1) == (d, 0, s0):
            imp.ref[node.output[0]] = imp.ref[root]
            set_labels(imp, node.output[0], lab)
            imp.report.folded["Roll (cyclic shift)"] += 1
            return
    spatial = {i for i, x in enumerate(lab) if x in SPATIAL}
    f = next(iter(specs[0].values()))[2]
    corners = sorted(tuple(s[i][0] for i in sorted(spatial)) for s in specs if set(s) == spatial)
    full = all(s[i][1] == s[i][3] and s[i][2] == f and s[i][3] % f == 0 for s in specs for i in s)
    if lab[axis] == "c" and full and corners == sorted(product(range(f), repeat=2)):
        imp.add_layer(node, _Layer("", "unshuffle", 0, [imp.single(node, root)], factor=f))
        set_labels(imp, node.output[0], lab)
        return
    raise InputError(imp.path, imp.where(node), f"joins slices of {_text(lab)} on axis {axis}; expected {PIECE_TEXT}")


def space_to_depth(imp: _Importer, node, data: list[str], a: dict) -> None:
    natural(imp, node, data)
    imp.add_layer(node, _Layer("", "unshuffle", 0, [imp.single(node, data[0])], factor=a.get("blocksize", 1)))
