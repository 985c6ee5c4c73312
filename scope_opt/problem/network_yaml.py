"""Network descriptions (YAML, or the same dict from ONNX import): validated layer by layer,
with what a description may leave out (C, H, W, pad) derived from the producers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scope_opt.errors import InputError
from scope_opt.formats.inputs import parse, read_text, text_value
from scope_opt.problem.network import NETWORK_INPUT, OPS, Layer, Network, Tensor
from scope_opt.problem.operators import OPERATORS, Channels, Compute, operands
from scope_opt.problem.layout_shapes import _first, _int, _matmul_shape, _no_kernel, _tokens_shape, _unshuffle_shape

MAX_KERNEL = 4096  # R, S, stride, pad
MAX_COUNT = 2**53  # MACs, weights, elements of one layer: exact in int64 and in a float
LAYER_KEYS = ("name", "op", "K", "C", "H", "W", "R", "S", "stride", "groups", "pad", "ceil_mode", "inputs", "residual",
              "first", "window", "factor")


def _out_len(n_in: int, r: int, stride: int, pad: int, ceil_mode: bool = False) -> int:
    """Output length of a window r with stride and pad; ceil_mode rounds up, as PyTorch's
    pools do, but a last window must start inside the input or its left pad."""
    if not ceil_mode:
        return (n_in + 2 * pad - r) // stride + 1
    out = -(-(n_in + 2 * pad - r) // stride) + 1
    return out - 1 if (out - 1) * stride >= n_in + pad else out


def _name_and_op(rl: Any, i: int, shapes: dict, src: str) -> tuple[str, str, str]:
    where = f"layers[{i}]"
    if not isinstance(rl, dict):
        raise InputError(src, where, "expected a mapping with name, op, K, ...")
    name = rl.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(src, f"{where}.name", "expected a non-empty string")
    where = f"layers[{i}] ({name})"
    if name in shapes:
        raise InputError(src, f"{where}.name", f"'{name}' is already used; layer names must be unique and not 'input'")
    op = rl.get("op", "conv")
    if op not in OPS:
        raise InputError(src, f"{where}.op", f"expected one of {', '.join(OPS)}, got {op!r}")
    unknown = set(rl) - set(LAYER_KEYS)
    if unknown:
        raise InputError(src, f"{where}.{sorted(unknown)[0]}", f"unknown field; expected {', '.join(LAYER_KEYS)}")
    return name, op, where


def _inputs(rl: dict, previous: str, shapes: dict, where: str, src: str) -> list[str]:
    inputs = rl.get("inputs", [previous])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        raise InputError(src, f"{where}.inputs", "expected a list of earlier layer names (or 'input')")
    for t in inputs:
        if not isinstance(t, str) or t not in shapes:
            raise InputError(src, f"{where}.inputs", f"'{t}' is not an earlier layer or 'input'")
    return inputs


def _vector_shape(rl: dict, ins: list[Tensor], where: str, src: str) -> tuple[int, int, int, int, bool]:
    """An fc layer: H = W = 1 and C the producers' elements (flattened when spatial)."""
    for key in ("R", "S", "H", "W", "stride"):
        if rl.get(key, 1) != 1:
            raise InputError(src, f"{where}.{key}", "an fc layer has H = W = R = S = stride = 1")
    return sum(t.elements for t in ins), 1, 1, 0, any(t.H * t.W > 1 for t in ins)


def _broadcast_shape(rl: dict, names: list[str], ins: list[Tensor], where: str,
                     src: str) -> tuple[int, int, int, int, bool]:
    """An element-wise layer: the output has each dimension's largest size; every input
    has that size or 1 there (broadcast, as ONNX's Mul and Add do)."""
    for key, none in (("R", 1), ("S", 1), ("stride", 1), ("pad", 0), ("ceil_mode", False)):
        if rl.get(key, none) != none:
            raise InputError(src, f"{where}.{key}", "an eltwise layer has no kernel: remove R, S, stride, pad and ceil_mode")
    if len(ins) < 2:
        raise InputError(src, f"{where}.inputs", "an eltwise layer combines two or more inputs; expected a list of 2+")
    out = Tensor(max(t.C for t in ins), max(t.H for t in ins), max(t.W for t in ins))
    for name, t in zip(names, ins):
        if any(d not in (o, 1) for d, o in ((t.C, out.C), (t.H, out.H), (t.W, out.W))):
            raise InputError(src, f"{where}.inputs", f"'{name}' is {t.C}x{t.H}x{t.W}, which does not broadcast to "
                                                     f"{out.C}x{out.H}x{out.W}; expected each dimension equal or 1")
    for key, val in (("H", out.H), ("W", out.W)):
        if rl.get(key, val) != val:
            raise InputError(src, f"{where}.{key}", f"expected {val} (the inputs broadcast), got {rl[key]!r}")
    return out.C, out.H, out.W, 0, False


def _spatial_shape(rl: dict, ins: list[Tensor], R: int, S: int, stride: int, where: str,
                   src: str) -> tuple[int, int, int, int, bool]:
    """A conv or pool: output rows and columns from the producers, checked against any given."""
    if len({(t.H, t.W) for t in ins}) > 1:
        raise InputError(src, f"{where}.inputs", "inputs concatenated by channel must have equal rows and columns")
    explicit = "pad" in rl  # an explicit pad applies to rows and columns
    pad = _int(rl, "pad", where, src, (R - 1) // 2, minimum=0, maximum=MAX_KERNEL)
    pad_w = pad if explicit else (S - 1) // 2  # by default rows pad (R-1)//2, columns (S-1)//2
    ceil_mode = _ceil_mode(rl, where, src)
    h_in, w_in = ins[0].H, ins[0].W
    H, W = _out_len(h_in, R, stride, pad, ceil_mode), _out_len(w_in, S, stride, pad_w, ceil_mode)
    if H < 1 or W < 1:
        raise InputError(src, f"{where}.R", f"kernel {R}x{S} with pad {pad} does not fit the {h_in}x{w_in} input")
    rounding = "ceil" if ceil_mode else "floor"
    for key, val, n_in, r, p in (("H", H, h_in, R, pad), ("W", W, w_in, S, pad_w)):
        given = rl.get(key, val)
        if given != val:
            raise InputError(src, f"{where}.{key}", f"expected {val} = {rounding}(({n_in} + 2*{p} - {r}) / {stride}) + 1 from the producer, got {given!r}")
    return sum(t.C for t in ins), H, W, pad, False


def _ceil_mode(rl: dict, where: str, src: str) -> bool:
    """`ceil_mode: true` (pools only) rounds the output length up, as PyTorch's
    MaxPool2d(ceil_mode=True) does; the extra window is clipped to the input."""
    value = rl.get("ceil_mode", False)
    if not isinstance(value, bool):
        raise InputError(src, f"{where}.ceil_mode", f"expected true or false, got {value!r}")
    if value and rl.get("op", "conv") != "pool":
        raise InputError(src, f"{where}.ceil_mode", "only a pool rounds its output up; remove ceil_mode from this layer")
    return value


def _channels(rl: dict, op: str, C: int, groups: int, n_inputs: int, where: str, src: str,
              K_from_inputs: int | None = None) -> tuple[int, int]:
    """(K, groups): a channel-keeping operator (pool, layernorm, softmax) has K = C, and a
    channel-wise one (pool, eltwise, tokens) one group per channel; a matmul's K follows
    from its inputs."""
    spec = OPERATORS[op]
    fixed = C if spec.keeps_channels else K_from_inputs
    if fixed is not None:
        K = _int(rl, "K", where, src, fixed)
        if K != fixed:
            why = "keeps its channels: expected K = C" if spec.keeps_channels else "takes K from its inputs: expected K"
            raise InputError(src, f"{where}.K", f"a{'n' if op[0] in 'aeiou' else ''} {op} layer {why} = {fixed}, got {K}")
        if spec.channels is Channels.SAME:
            groups = C
    else:
        K = _int(rl, "K", where, src)
    if C % groups or K % groups:
        raise InputError(src, f"{where}.groups", f"groups = {groups} must divide C = {C} and K = {K}")
    if groups > 1 and n_inputs > 1 and not spec.keeps_channels and spec.input_rules is None:
        raise InputError(src, f"{where}.inputs", "a grouped layer reads exactly one input")
    return K, groups


def _residual(rl: dict, shapes: dict, out: Tensor, where: str, src: str) -> str | None:
    residual = rl.get("residual")
    if residual is None:
        return None
    text_value(residual, src, f"{where}.residual")
    if residual not in shapes:
        raise InputError(src, f"{where}.residual", f"'{residual}' is not an earlier layer or 'input'")
    if shapes[residual] != out:
        r = shapes[residual]
        raise InputError(src, f"{where}.residual", f"'{residual}' is {r.C}x{r.H}x{r.W} but the output is {out.C}x{out.H}x{out.W}; shapes must be equal")
    return residual


def build_layer(rl: Any, i: int, previous: str, shapes: dict, src: str) -> Layer:
    """One layer of a description, checked against the tensors made before it."""
    name, op, where = _name_and_op(rl, i, shapes, src)
    inputs = _inputs(rl, previous, shapes, where, src)
    ins = [shapes[t] for t in inputs]
    R = _int(rl, "R", where, src, 1, maximum=MAX_KERNEL)
    S = _int(rl, "S", where, src, R, maximum=MAX_KERNEL)
    stride = _int(rl, "stride", where, src, 1, maximum=MAX_KERNEL)
    groups = _int(rl, "groups", where, src, 1)
    k_in = None
    for key, owner in (("window", ("matmul_t", "matmul")), ("factor", ("unshuffle",))):
        if key in rl and op not in owner:
            raise InputError(src, f"{where}.{key}", f"only a {' or '.join(owner)} layer takes {key}; remove it")
    if OPERATORS[op].input_rules is not None:
        c_in, H, W, pad, flatten, k_in = _matmul_shape(rl, op, inputs, ins, groups, where, src)
    elif op == "unshuffle":
        c_in, H, W, k_in, R = _unshuffle_shape(rl, ins, where, src)
        S, stride, pad, flatten = R, R, 0, False
    elif op == "tokens":
        c_in, H, W, pad, flatten = _tokens_shape(rl, ins, where, src)
    elif OPERATORS[op].broadcast:
        c_in, H, W, pad, flatten = _broadcast_shape(rl, inputs, ins, where, src)
    elif OPERATORS[op].flattened is not None:
        c_in, H, W, pad, flatten = _vector_shape(rl, ins, where, src)
    else:
        if OPERATORS[op].compute is not Compute.MAC and op != "pool":  # layernorm, softmax, channels, shuffle
            _no_kernel(rl, op, where, src)
        c_in, H, W, pad, flatten = _spatial_shape(rl, ins, R, S, stride, where, src)
    C = rl.get("C", c_in)
    if C != c_in:
        raise InputError(src, f"{where}.C", f"expected {c_in} (the producers' output{' flattened' if flatten else ''}), got {C!r}")
    K, groups = _channels(rl, op, C, groups, len(inputs), where, src, k_in)
    first = _first(rl, op, C, K, len(inputs), where, src)
    residual = _residual(rl, shapes, Tensor(K, H, W), where, src)
    if not isinstance(C, int) or isinstance(C, bool):
        raise InputError(src, f"{where}.C", f"expected an integer, got {C!r}")
    layer = Layer(name, op, K, C, H, W, R, S, stride, groups, pad, operands(op, tuple(inputs), residual, groups, flatten,
                                                                                     tuple((t.C, t.H, t.W) for t in ins), first))
    for what, count in (("MACs", layer.macs), ("weights", layer.weights), ("output elements", layer.out.elements)):
        if count >= MAX_COUNT:
            raise InputError(src, where, f"{what} per sample = {count} exceed 2^53; expected a layer that fits exact integer arithmetic")
    return layer


def build_network(raw: Any, src: str, default_name: str) -> Network:
    """Validate a parsed network description and derive what it leaves out (C, H, W, pad)."""
    if not isinstance(raw, dict):
        raise InputError(src, "(top level)", "expected a mapping with 'input' and 'layers'")
    inp = raw.get("input")
    if not isinstance(inp, dict):
        raise InputError(src, "input", "expected a mapping {C: ..., H: ..., W: ...}")
    external = {NETWORK_INPUT: Tensor(*(_int(inp, k, "input", src) for k in ("C", "H", "W")))}
    raw_layers = raw.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise InputError(src, "layers", "expected a non-empty list of layers")
    shapes: dict[str, Tensor] = dict(external)
    layers: list[Layer] = []
    for i, rl in enumerate(raw_layers):
        layer = build_layer(rl, i, layers[-1].name if layers else NETWORK_INPUT, shapes, src)
        layers.append(layer)
        shapes[layer.name] = layer.out
    name = text_value(raw.get("name", default_name), src, "name")
    return Network(name, tuple(layers), external, src)


def load_network(path: str | Path) -> Network:
    path = Path(path)
    raw = parse(path, read_text(path, "a network YAML file"), "yaml")
    return build_network(raw, str(path), path.stem)


MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def model_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))
