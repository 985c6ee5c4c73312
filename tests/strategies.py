"""Random tiny instances for property-based tests: chains with residual edges, pools
(of concatenations, ceil_mode, global), eltwise layers (broadcast SE scales) and layout
ops (channel chunks, channel shuffles, space to depth), or token
networks with attention (matmul_t, softmax, matmul; global or in windows), layernorm and token selection; 1 to
8 chiplets, batch 1 to 16, K/H or hybrid partitions."""

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
def _token_layers(draw, n_layers):
    """A token network (D features of T tokens, W = 1): linear layers (1x1 convs, with
    residuals), layernorms, attention blocks (scores = matmul_t(x, y) per head, softmax,
    context = matmul(scores, v)) and a last selection of the first tokens."""
    D, T = draw(st.sampled_from([4, 8])), draw(st.sampled_from([2, 3, 4, 5, 6]))
    layers, shapes = [], {"input": (D, T)}
    i = 0
    while i < n_layers:
        prev = layers[-1]["name"] if layers else "input"
        c, t = shapes[prev]
        kind = draw(st.integers(0, 3))
        if kind == 0 and n_layers - i >= 3:
            heads = draw(st.sampled_from([h for h in (1, 2, 4) if c % h == 0]))
            keys = [n for n, (cc, _) in shapes.items() if cc == c]
            y = draw(st.sampled_from(keys))
            v = draw(st.sampled_from([n for n, (cc, tt) in shapes.items()  # y itself qualifies
                                      if tt == shapes[y][1] and cc % heads == 0]))
            keys, window = shapes[y][1], {}
            if keys == t and draw(st.booleans()):  # window attention: each query sees its window's keys
                keys = draw(st.sampled_from([w for w in range(1, t) if t % w == 0]))
                window = {"window": keys}
            layers += [{"name": f"l{i}", "op": "matmul_t", "inputs": [prev, y], "groups": heads, **window},
                       {"name": f"l{i + 1}", "op": "softmax", "groups": heads},
                       {"name": f"l{i + 2}", "op": "matmul", "inputs": [f"l{i + 1}", v], "groups": heads, **window}]
            shapes[f"l{i}"] = shapes[f"l{i + 1}"] = (heads * keys, t)
            shapes[f"l{i + 2}"] = (shapes[v][0], t)
            i += 3
            continue
        if kind == 1:
            layers.append({"name": f"l{i}", "op": "layernorm"})
        elif kind == 2 and i == n_layers - 1 and t > 1:
            layers.append({"name": f"l{i}", "op": "tokens", "H": draw(st.integers(1, t - 1))})
            t = layers[-1]["H"]
        else:
            k = draw(st.sampled_from([4, 8]))
            layers.append({"name": f"l{i}", "K": k})
            c = k
            same = [n for n, (cc, tt) in shapes.items() if n not in (prev, "input") and (cc, tt) == (k, t)]
            if same and draw(st.booleans()):
                layers[-1]["residual"] = draw(st.sampled_from(same))
        shapes[f"l{i}"] = (c, t)
        i += 1
    return {"input": {"C": D, "H": T, "W": 1}, "layers": layers}


@st.composite
def tiny_instances(draw, max_layers=4, max_chiplets=8, wide=False):
    """Random chains with residuals, or token networks with attention (one in four);
    `wide`: also many chiplets (up to 4x4) and large SRAM."""
    n_layers = draw(st.integers(2, max_layers))
    if draw(st.integers(0, 3)) == 0:
        return draw(_package(build_network(draw(_token_layers(n_layers)), "(random)", "random"), max_chiplets, wide))
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
        c_prev = shapes[prev][0]
        if kind == 3 and c_prev >= 2:  # a layout op: a chunk of channels, a channel shuffle, space to depth
            if shapes[prev][1] % 2 == 0 and c_prev <= 4 and draw(st.booleans()):
                layers.append({"name": f"l{i}", "op": "unshuffle", "factor": 2})
                shapes[f"l{i}"] = (4 * c_prev, shapes[prev][1] // 2)
            elif c_prev % 2 == 0 and draw(st.booleans()):
                layers.append({"name": f"l{i}", "op": "shuffle", "groups": 2})
                shapes[f"l{i}"] = shapes[prev]
            else:
                first = draw(st.integers(0, c_prev - 1))
                layers.append({"name": f"l{i}", "op": "channels", "first": first, "K": draw(st.integers(1, c_prev - first))})
                shapes[f"l{i}"] = (layers[-1]["K"], shapes[prev][1])
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
    return draw(_package(net, max_chiplets, wide))


@st.composite
def _package(draw, net, max_chiplets, wide):
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
