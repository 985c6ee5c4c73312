"""Problem instances: a network (or a slice of one), an MCM package, a batch and the
allowed partitions, read from one TOML file.  Every optional field has a default,
listed in docs/instances.md; the hardware defaults are the Simba-like chiplet.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from scope_opt.errors import InputError
from scope_opt.formats.inputs import known_keys, number, parse, read_text, text_value
from scope_opt.problem.network import Network
from scope_opt.problem.network_yaml import load_network

PARTITION_SETS = ("K", "H", "hybrid")


@dataclass(frozen=True)
class Energy:
    mac_pj: float = 0.22  # Simba: 0.11 pJ/op, two ops per MAC
    sram_pj_per_byte: float = 1.0
    nop_pj_per_byte_hop: float = 10.0  # Simba GRS links, about 1.3 pJ/bit
    dram_pj_per_byte: float = 160.0  # about 20 pJ/bit


@dataclass(frozen=True)
class Package:
    """An X x Y mesh of identical chiplets plus the package's DRAM."""

    mesh: tuple[int, int]
    pe_k: int = 32
    pe_c: int = 32
    freq_ghz: float = 2.0
    sram_kib: float = 752.0
    nop_gbps: float = 100.0
    dram_gbps: float = 64.0
    bytes_per_element: int = 1
    energy: Energy = Energy()

    @property
    def chiplets(self) -> int:
        return self.mesh[0] * self.mesh[1]

    @property
    def sram_bytes(self) -> float:
        return self.sram_kib * 1024

    @property
    def freq_hz(self) -> float:
        return self.freq_ghz * 1e9

    @property
    def nop_bps(self) -> float:
        return self.nop_gbps * 1e9

    @property
    def dram_bps(self) -> float:
        return self.dram_gbps * 1e9

    @property
    def peak_macs_per_s(self) -> float:
        return self.chiplets * self.pe_k * self.pe_c * self.freq_hz


@dataclass(frozen=True)
class Instance:
    name: str
    batch: int
    network: Network
    package: Package
    partitions: str = "KH"  # "KH": input-shared and weight-shared only; "hybrid": every factorisation
    source: str = ""

    @cached_property
    def allowed_partitions(self) -> dict[int, tuple[tuple[int, int], ...]]:
        """For each chiplet count n, the (p_k, p_h) pairs a layer on n chiplets may use."""
        out = {}
        for n in range(1, self.package.chiplets + 1):
            if self.partitions == "hybrid":
                out[n] = tuple((d, n // d) for d in range(1, n + 1) if n % d == 0)
            else:
                out[n] = tuple(dict.fromkeys(((n, 1), (1, n))))
        return out


def _section(raw: dict, key: str, src: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise InputError(src, key, "expected a table")
    return value


# Documented ranges (docs/instances.md): (low, high, integer, low excluded)
RANGES = {
    "batch": (1, 10**9, True, False),
    "freq_ghz": (0, 100, False, True),
    "sram_kib": (0, 2**30, False, True),
    "nop_gbps": (0, 1e6, False, True),
    "dram_gbps": (0, 1e6, False, True),
    "bytes_per_element": (1, 16, True, False),
    "energy": (0, 1e6, False, False),
}
MAX_MESH_SIDE, MAX_CHIPLETS = 256, 1024  # beyond 32x32 chiplets no method here finishes in reasonable time
MAX_PE = 4096
HARDWARE_KEYS = ("mesh", "pe_array", "freq_ghz", "sram_kib", "nop_gbps", "dram_gbps", "bytes_per_element", "energy")
ENERGY_KEYS = ("mac_pj", "sram_pj_per_byte", "nop_pj_per_byte_hop", "dram_pj_per_byte")
WORKLOAD_KEYS = ("model", "layers", "input_shape")
SPACE_KEYS = ("partitions",)


def _number(table: dict, key: str, where: str, src: str, default: Any, kind: str | None = None) -> Any:
    value = table.get(key, default)
    low, high, integer, low_open = RANGES[kind or key]
    if value is None:
        raise InputError(src, f"{where}{key}", "required")
    return number(value, src, f"{where}{key}", low, high, integer=integer, low_open=low_open)


def _pair(table: dict, key: str, where: str, src: str, default: Any, high: int) -> tuple[int, int]:
    value = table.get(key, default)
    if value is None:
        raise InputError(src, f"{where}{key}", "required; expected two positive integers, e.g. [4, 4]")
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high for v in value)):
        raise InputError(src, f"{where}{key}", f"expected two integers in [1, {high}], e.g. [4, 4], got {value!r}")
    return value[0], value[1]


def resolve_model(model: str, base: Path, src: str) -> Path:
    """A model is a path relative to the instance file, or a name in a models/ folder
    found beside the instance or in one of its parent folders (or the working directory)."""
    candidates = [base / model]
    if not model.endswith((".yaml", ".yml", ".onnx")):
        for folder in [base, *base.parents, Path.cwd()]:
            candidates.append(folder / "models" / f"{model}.yaml")
    for c in candidates:
        if c.is_file():
            return c
    raise InputError(src, "workload.model", f"no model '{model}': expected a name in models/ (e.g. resnet50), or a YAML or ONNX path relative to the instance file")


def _workload(raw: dict, src: str, base: Path, network: Network | None) -> Network:
    """The [workload] table: the model (YAML or ONNX, or the network given), sliced."""
    workload = _section(raw, "workload", src)
    known_keys(workload, WORKLOAD_KEYS, src, "workload.")
    model = workload.get("model")
    if network is not None:
        model = model or network.name
    if not isinstance(model, str) or not model:
        raise InputError(src, "workload.model", "required; expected a model name or a YAML path")
    path = resolve_model(model, base, src) if network is None else None
    shape = workload.get("input_shape")
    if shape is not None and (not isinstance(shape, list) or len(shape) != 3
                              or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)):
        raise InputError(src, "workload.input_shape", f"expected [C, H, W], three positive integers, got {shape!r}")
    if network is not None:
        pass
    elif path.suffix == ".onnx":
        from scope_opt.problem.onnx_import import load_onnx_network
        network = load_onnx_network(path, tuple(shape) if shape else None)
    elif shape is not None:
        raise InputError(src, "workload.input_shape", "applies to an ONNX model only; a YAML network states its input")
    else:
        network = load_network(path)
    span = workload.get("layers")
    if span is not None:
        n = len(network.layers)
        if (not isinstance(span, list) or len(span) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)
                or not 0 <= span[0] < span[1] <= n):
            raise InputError(src, "workload.layers", f"expected [first, last) with 0 <= first < last <= {n}, got {span!r}")
        network = network.slice(span[0], span[1])
    return network


def _package(raw: dict, src: str) -> Package:
    """The [hardware] table, every field checked against its documented range."""
    hw = _section(raw, "hardware", src)
    known_keys(hw, HARDWARE_KEYS, src, "hardware.")
    d = Package(mesh=(1, 1))
    mesh = _pair(hw, "mesh", "hardware.", src, None, MAX_MESH_SIDE)
    if mesh[0] * mesh[1] > MAX_CHIPLETS:
        raise InputError(src, "hardware.mesh", f"{mesh[0]}x{mesh[1]} = {mesh[0] * mesh[1]} chiplets is more than the "
                                               f"{MAX_CHIPLETS} any method here can map in reasonable time; expected a smaller mesh")
    pe = _pair(hw, "pe_array", "hardware.", src, [d.pe_k, d.pe_c], MAX_PE)
    en = _section(hw, "energy", src)
    known_keys(en, ENERGY_KEYS, src, "hardware.energy.")
    de = Energy()
    energy = Energy(*(float(_number(en, k, "hardware.energy.", src, getattr(de, k), kind="energy")) for k in ENERGY_KEYS))
    return Package(
        mesh=mesh, pe_k=pe[0], pe_c=pe[1],
        freq_ghz=float(_number(hw, "freq_ghz", "hardware.", src, d.freq_ghz)),
        sram_kib=float(_number(hw, "sram_kib", "hardware.", src, d.sram_kib)),
        nop_gbps=float(_number(hw, "nop_gbps", "hardware.", src, d.nop_gbps)),
        dram_gbps=float(_number(hw, "dram_gbps", "hardware.", src, d.dram_gbps)),
        bytes_per_element=_number(hw, "bytes_per_element", "hardware.", src, d.bytes_per_element),
        energy=energy,
    )


def _partitions(raw: dict, src: str) -> str:
    """The [space] table: "KH" (input- and weight-shared only) or "hybrid"."""
    space = _section(raw, "space", src)
    known_keys(space, SPACE_KEYS, src, "space.")
    parts = space.get("partitions", ["K", "H"])
    if (not isinstance(parts, list) or not parts or any(p not in PARTITION_SETS for p in parts)
            or ("hybrid" in parts and len(parts) > 1)):
        raise InputError(src, "space.partitions", f'expected ["K", "H"] or ["hybrid"], got {parts!r}')
    if parts != ["hybrid"] and sorted(set(parts)) != ["H", "K"]:
        raise InputError(src, "space.partitions", f'expected ["K", "H"] or ["hybrid"] (both of K and H), got {parts!r}')
    return "hybrid" if parts == ["hybrid"] else "KH"


def build_instance(raw: dict, src: str, base: Path, default_name: str, network: Network | None = None) -> Instance:
    """An Instance from parsed TOML; `network`, when given, is used instead of loading
    workload.model (a sweep cell carries its network with it)."""
    known_keys(raw, ("name", "batch", "workload", "hardware", "space"), src, "")
    network = _workload(raw, src, base, network)
    package = _package(raw, src)
    partitions = _partitions(raw, src)
    batch = _number(raw, "batch", "", src, 1)
    name = text_value(raw.get("name", default_name), src, "name")
    return Instance(name, batch, network, package, partitions, src)


def load_instance(path: str | Path) -> Instance:
    path = Path(path)
    raw = parse(path, read_text(path, "an instance TOML file"), "toml")
    return build_instance(raw, str(path), path.parent, path.stem)
