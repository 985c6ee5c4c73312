"""Random tiny instances for property-based tests: chains with residual edges, pools
(of concatenations, ceil_mode, global) and eltwise layers (broadcast SE scales), 1 to 8
chiplets, batch 1 to 16, K/H or hybrid partitions."""

from hypothesis import strategies as st

from scope_opt.problem.instance import Energy, Instance, Package
from scope_opt.problem.network_yaml import _out_len, build_network


@st.composite
def _pool(draw, name, prev, shapes):
    """A pool layer reading `prev`, or the channel concatenation of `prev` and another
    tensor of its size (the channel-wise read with offsets), with ceil_mode at times."""
    h_in = shapes[prev][1]
    others = [t for t, (_, h) in shapes.items() if t != prev and h == h_in]
    inputs = [prev] + ([draw(st.sampled_from(others))] if others and draw(st.booleans()) else [])
    r = draw(st.sampled_from([1, 2, 3, h_in])) if h_in >= 3 else draw(st.sampled_from([1, h_in]))
    stride, pad, ceil = draw(st.sampled_from([1, 2])), draw(st.integers(0, r // 2)), draw(st.booleans())
    if r == h_in:  # a global pool: the whole tensor to 1x1
        stride, pad, ceil = 1, 0, False
    shapes[name] = (sum(shapes[t][0] for t in inputs), _out_len(h_in, r, stride, pad, ceil))
    return {"name": name, "op": "pool", "R": r, "stride": stride, "pad": pad, "ceil_mode": ceil, "inputs": inputs}


@st.composite
def tiny_instances(draw, max_layers=4, max_chiplets=8, wide=False):
    """Random chains with residuals; `wide`: also many chiplets (up to 4x4) and large SRAM."""
    n_layers = draw(st.integers(2, max_layers))
    c0 = draw(st.sampled_from([2, 4, 8]))
    hw = draw(st.sampled_from([4, 6, 8]))
    layers = []
    shapes = {"input": (c0, hw)}
    for i in range(n_layers):
        prev = layers[-1]["name"] if layers else "input"
        kind = draw(st.integers(0, 9)) if i else 9
        if kind <= 1:  # a pool, of a concatenation at times, rounding up at times, global at times
            layers.append(draw(_pool(f"l{i}", prev, shapes)))
            continue
        partners = [t for t, (c, h) in shapes.items() if t != prev and c in (shapes[prev][0], 1) and h in (shapes[prev][1], 1)]
        if kind == 2 and (partners or i + 1 < n_layers):  # an eltwise x * s; an SE scale s = a global pool of x, 1x1
            if not partners or draw(st.booleans()):
                layers.append({"name": f"l{i}g", "op": "pool", "R": shapes[prev][1], "pad": 0})
                shapes[f"l{i}g"], partners = (shapes[prev][0], 1), [f"l{i}g"]
            layers.append({"name": f"l{i}", "op": "eltwise", "inputs": [prev, draw(st.sampled_from(partners))]})
            shapes[f"l{i}"] = shapes[prev]
            continue
        k = draw(st.sampled_from([4, 8, 16]))
        r = draw(st.sampled_from([1, 3]))
        stride = draw(st.sampled_from([1, 1, 2])) if shapes[prev][1] >= 4 else 1
        layer = {"name": f"l{i}", "K": k, "R": r, "stride": stride}
        h_out = (shapes[prev][1] + 2 * ((r - 1) // 2) - r) // stride + 1
        same = [t for t, (c, h) in shapes.items() if t not in (prev, "input") and c == k and h == h_out]
        if same and draw(st.booleans()):
            layer["residual"] = draw(st.sampled_from(same))
        layers.append(layer)
        shapes[layer["name"]] = (k, h_out)
    net = build_network({"input": {"C": c0, "H": hw, "W": hw}, "layers": layers}, "(random)", "random")
    meshes = [(1, 1), (2, 1), (3, 1), (2, 2), (4, 1), (3, 2), (4, 2), (2, 3)] + ([(3, 3), (5, 2), (4, 3), (4, 4)] if wide else [])
    mesh = draw(st.sampled_from(meshes))
    mesh = mesh if mesh[0] * mesh[1] <= max_chiplets else (2, 1)
    srams = [2.0, 4.0, 16.0] + ([64.0, 1024.0] if wide else [])
    pkg = Package(mesh=mesh, pe_k=draw(st.sampled_from([2, 4, 8])), pe_c=draw(st.sampled_from([2, 4, 8])),
                  freq_ghz=1.0, sram_kib=draw(st.sampled_from(srams)),
                  nop_gbps=draw(st.sampled_from([1.0, 10.0, 100.0])), dram_gbps=draw(st.sampled_from([1.0, 10.0, 100.0])),
                  bytes_per_element=1, energy=Energy())
    return Instance("random", draw(st.integers(1, 16)), net, pkg, draw(st.sampled_from(["KH", "hybrid"])))


@st.composite
def tiling_instances(draw, max_layers=4, max_chiplets=4):
    """Chains of weight-heavy layers on small tensors, with an SRAM so tight that the
    heaviest layer alone on one chiplet needs t = 2..5 weight passes (weight tiling
    binds); residual edges, 1 to max_chiplets chiplets, K/H or hybrid."""
    n_layers = draw(st.integers(1, max_layers))
    c0 = draw(st.sampled_from([8, 16, 32]))
    hw = draw(st.sampled_from([1, 2, 4]))
    layers, shapes = [], {"input": (c0, hw)}
    for i in range(n_layers):
        prev = layers[-1]["name"] if layers else "input"
        layer = {"name": f"l{i}", "K": draw(st.sampled_from([8, 16, 32, 64])), "R": draw(st.sampled_from([1, 3]))}
        same = [t for t, (c, h) in shapes.items() if t not in (prev, "input") and c == layer["K"] and h == shapes[prev][1]]
        if same and draw(st.booleans()):
            layer["residual"] = draw(st.sampled_from(same))
        layers.append(layer)
        shapes[layer["name"]] = (layer["K"], shapes[prev][1])
    net = build_network({"input": {"C": c0, "H": hw, "W": hw}, "layers": layers}, "(random)", "random")
    heavy = max(net.layers, key=lambda l: l.weights)
    act = max(l.C * hw * hw + l.K * l.H * l.W for l in net.layers)  # the largest activation on one chiplet
    t = draw(st.integers(2, 5))
    sram = act + -(-heavy.weights // t) + draw(st.integers(0, 3))  # bytes: room for 1/t of the heaviest weights
    mesh = draw(st.sampled_from([(1, 1), (2, 1), (3, 1), (2, 2), (4, 1)]))
    mesh = mesh if mesh[0] * mesh[1] <= max_chiplets else (1, 1)
    pkg = Package(mesh=mesh, pe_k=draw(st.sampled_from([4, 8])), pe_c=draw(st.sampled_from([4, 8])), freq_ghz=1.0,
                  sram_kib=sram / 1024, nop_gbps=draw(st.sampled_from([1.0, 10.0])),
                  dram_gbps=draw(st.sampled_from([1.0, 10.0])), bytes_per_element=1, energy=Energy())
    return Instance("tiling", draw(st.integers(1, 8)), net, pkg, draw(st.sampled_from(["KH", "hybrid"])))
