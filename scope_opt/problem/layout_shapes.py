"""Shape rules of the operators without a kernel of their own: tokens, attention's
matmuls (with or without windows), a chunk's first channel and space to depth."""

from __future__ import annotations

from scope_opt.errors import InputError
from scope_opt.formats.inputs import number
from scope_opt.problem.network import Tensor

MAX_DIM = 2**20  # channels, rows, columns of one tensor (docs/instances.md)


def _int(raw: dict, key: str, where: str, src: str, default: int | None = None, minimum: int = 1,
         maximum: int = MAX_DIM) -> int:
    value = raw.get(key, default)
    if value is None:
        raise InputError(src, f"{where}.{key}", f"required; expected an integer in [{minimum}, {maximum}]")
    return number(value, src, f"{where}.{key}", minimum, maximum, integer=True)



def _first(rl: dict, op: str, C: int, K: int, n_inputs: int, where: str, src: str) -> int:
    """A channels layer's first channel: it takes channels [first, first + K) of its input."""
    if op != "channels":
        if "first" in rl:
            raise InputError(src, f"{where}.first", "only a channels layer takes a first channel; remove first")
        return 0
    if n_inputs != 1:
        raise InputError(src, f"{where}.inputs", "a channels layer reads one input")
    first = _int(rl, "first", where, src, 0, minimum=0)
    if first + K > C:
        raise InputError(src, f"{where}.K", f"channels [{first}, {first + K}) do not fit the input's {C}; expected "
                                            f"first + K <= {C}")
    return first


def _no_kernel(rl: dict, op: str, where: str, src: str) -> None:
    for key, none in (("R", 1), ("S", 1), ("stride", 1), ("pad", 0), ("ceil_mode", False)):
        if rl.get(key, none) != none:
            raise InputError(src, f"{where}.{key}", f"a {op} layer has no kernel: remove R, S, stride, pad and ceil_mode")


def _tokens_shape(rl: dict, ins: list[Tensor], where: str, src: str) -> tuple[int, int, int, int, bool]:
    """A tokens layer: its input's positions as H tokens of C features (W = 1).  H is
    given: more than H x W prepends learned tokens (a class token), fewer keeps the first."""
    _no_kernel(rl, "tokens", where, src)
    if len(ins) != 1:
        raise InputError(src, f"{where}.inputs", "a tokens layer reads one input")
    if "H" not in rl:
        raise InputError(src, f"{where}.H", f"required: the token count (the input has {ins[0].H * ins[0].W} "
                                            "positions; more prepends learned tokens, fewer keeps the first)")
    if rl.get("W", 1) != 1:
        raise InputError(src, f"{where}.W", f"tokens have W = 1, got {rl['W']!r}")
    return ins[0].C, _int(rl, "H", where, src), 1, 0, False


def _matmul_shape(rl: dict, op: str, names: list[str], ins: list[Tensor], heads: int, where: str,
                  src: str) -> tuple[int, int, int, int, bool, int]:
    """Attention's matmuls, `groups` = heads; a tensor's tokens are its H x W positions.
    matmul_t(Q, K): Q and K have D features, the output is heads x T_k channels of Q's
    positions.  matmul(P, V): P has heads x T_k channels, the output V's channels of P's
    positions.  T_k is K's (V's) positions, or `window` when each query attends only to the
    tokens of its own window (Swin's window attention: the windows tile the positions)."""
    _no_kernel(rl, op, where, src)
    if len(ins) != 2:
        raise InputError(src, f"{where}.inputs", f"a {op} layer reads two inputs, got {len(ins)}")
    (a, b), (na, nb) = ins, names
    tokens = b.H * b.W
    keys = tokens
    if "window" in rl:
        keys = _int(rl, "window", where, src)
        if tokens % keys or a.H * a.W != tokens:
            raise InputError(src, f"{where}.window", f"windows of {keys} tokens must tile the {tokens} positions of "
                                                     f"'{nb}', and '{na}' must have as many; got {a.H * a.W}")
    if op == "matmul_t":
        if a.C != b.C:
            raise InputError(src, f"{where}.inputs", f"'{na}' has {a.C} features and '{nb}' {b.C}; Q and K must have the same")
        K = heads * keys
    else:
        if a.C != heads * keys:
            raise InputError(src, f"{where}.inputs", f"'{na}' has {a.C} channels; expected heads x tokens of '{nb}' = "
                                                     f"{heads} x {keys} = {heads * keys}")
        K = b.C
    for key, val in (("H", a.H), ("W", a.W)):
        if rl.get(key, val) != val:
            raise InputError(src, f"{where}.{key}", f"expected {val} (the {'rows' if key == 'H' else 'columns'} of "
                                                    f"'{na}'), got {rl[key]!r}")
    return a.C, a.H, a.W, 0, False, K


def _unshuffle_shape(rl: dict, ins: list[Tensor], where: str, src: str) -> tuple[int, int, int, int, int]:
    """Space to depth by `factor` f: (C, H, W) to (C f^2, H / f, W / f); returns
    (C, H, W, K, f).  f must divide the rows and the columns (Swin pads them first)."""
    for key in ("R", "S", "stride", "pad"):
        if key in rl:
            raise InputError(src, f"{where}.{key}", "an unshuffle layer's window is its factor: remove R, S, stride, pad")
    if len(ins) != 1:
        raise InputError(src, f"{where}.inputs", "an unshuffle layer reads one input")
    f, t = _int(rl, "factor", where, src, minimum=2, maximum=64), ins[0]
    if t.H % f or t.W % f:
        raise InputError(src, f"{where}.factor", f"factor {f} does not divide the {t.H}x{t.W} input; expected a "
                                                 "factor of both (pad the input first)")
    K = t.C * f * f
    if rl.get("K", K) != K:
        raise InputError(src, f"{where}.K", f"an unshuffle layer has K = C x factor^2 = {K}, got {rl['K']!r}")
    for key, val in (("H", t.H // f), ("W", t.W // f)):
        if rl.get(key, val) != val:
            raise InputError(src, f"{where}.{key}", f"expected {val} (the input over the factor), got {rl[key]!r}")
    return t.C, t.H // f, t.W // f, K, f
