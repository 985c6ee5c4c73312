"""Writes the bundled network YAML files (run: python models/generate.py).

Shapes follow the torchvision definitions at 224x224; residual adds are folded into the
layer that ends each block, and a ResNet downsample shortcut is its own 1x1 layer placed
just before that layer. Only the generator's output is read by scope-opt.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


class Builder:
    def __init__(self, name: str, c: int = 3, h: int = 224, w: int = 224) -> None:
        self.name, self.layers = name, []
        self.shape = {"input": (c, h, w)}
        self.last = "input"
        self.input = (c, h, w)

    def add(self, name, op="conv", K=None, R=1, stride=1, pad=None, groups=1, inputs=None, residual=None):
        src = inputs or [self.last]
        c, h, w = self.shape[src[0]]
        if op == "fc":
            c = sum(self.shape[s][0] * self.shape[s][1] * self.shape[s][2] for s in src)
            ho = wo = 1
        else:
            p = (R - 1) // 2 if pad is None else pad
            ho, wo = (h + 2 * p - R) // stride + 1, (w + 2 * p - R) // stride + 1
        K = c if op == "pool" else K
        layer = {"name": name, "op": op, "K": K, "C": c, "H": ho, "W": wo}
        if op != "fc":
            layer.update({"R": R, "S": R, "stride": stride})
            if pad is not None and pad != (R - 1) // 2:
                layer["pad"] = pad
        if groups != 1:
            layer["groups"] = groups
        if inputs is not None and inputs != [self.last]:
            layer["inputs"] = inputs
        if residual:
            layer["residual"] = residual
        self.layers.append(layer)
        self.shape[name] = (K, ho, wo)
        self.last = name
        return name

    def dump(self, note: str) -> None:
        c, h, w = self.input
        lines = [f"# {note}", f"name: {self.name}", f"input: {{C: {c}, H: {h}, W: {w}}}", "layers:"]
        for layer in self.layers:
            body = ", ".join(f"{k}: {('[' + ', '.join(v) + ']') if isinstance(v, list) else v}" for k, v in layer.items())
            lines.append(f"  - {{{body}}}")
        (HERE / f"{self.name}.yaml").write_text("\n".join(lines) + "\n")


def resnet(depth: int) -> None:
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}[depth]
    bottleneck = depth >= 50
    b = Builder(f"resnet{depth}")
    b.add("conv1", K=64, R=7, stride=2)
    x = b.add("pool1", op="pool", R=3, stride=2)
    for stage, n in enumerate(blocks):
        width = 64 * 2**stage
        out = width * 4 if bottleneck else width
        for j in range(n):
            stride = 2 if stage > 0 and j == 0 else 1
            p = f"s{stage + 2}b{j + 1}"
            if bottleneck:
                b.add(f"{p}a", K=width, R=1, inputs=[x])
                last_in = b.add(f"{p}b", K=width, R=3, stride=stride)
            else:
                last_in = b.add(f"{p}a", K=width, R=3, stride=stride, inputs=[x])
            shortcut = x
            if stride != 1 or b.shape[x][0] != out:
                shortcut = b.add(f"{p}ds", K=out, R=1, stride=stride, inputs=[x])
            x = b.add(f"{p}c" if bottleneck else f"{p}b", K=out, R=1 if bottleneck else 3, inputs=[last_in], residual=shortcut)
    b.add("avgpool", op="pool", R=7, pad=0)
    b.add("fc", op="fc", K=1000)
    b.dump(f"ResNet-{depth} ({'bottleneck' if bottleneck else 'basic'} blocks), 224x224; residual adds folded into each block's last conv")


def vgg16() -> None:
    b = Builder("vgg16")
    for stage, (n, k) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]):
        for j in range(n):
            b.add(f"conv{stage + 1}_{j + 1}", K=k, R=3)
        b.add(f"pool{stage + 1}", op="pool", R=2, stride=2, pad=0)
    b.add("fc6", op="fc", K=4096)
    b.add("fc7", op="fc", K=4096)
    b.add("fc8", op="fc", K=1000)
    b.dump("VGG-16, 224x224; fc6 flattens the 512x7x7 tensor")


def alexnet() -> None:
    b = Builder("alexnet")
    b.add("conv1", K=64, R=11, stride=4, pad=2)
    b.add("pool1", op="pool", R=3, stride=2, pad=0)
    b.add("conv2", K=192, R=5)
    b.add("pool2", op="pool", R=3, stride=2, pad=0)
    b.add("conv3", K=384, R=3)
    b.add("conv4", K=256, R=3)
    b.add("conv5", K=256, R=3)
    b.add("pool5", op="pool", R=3, stride=2, pad=0)
    b.add("fc6", op="fc", K=4096)
    b.add("fc7", op="fc", K=4096)
    b.add("fc8", op="fc", K=1000)
    b.dump("AlexNet (torchvision single-tower variant), 224x224")


def mobilenet_v2() -> None:
    b = Builder("mobilenetv2")
    x = b.add("conv1", K=32, R=3, stride=2)
    c_in = 32
    idx = 0
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for j in range(n):
            idx += 1
            stride = s if j == 0 else 1
            hidden = c_in * t
            if t != 1:
                b.add(f"b{idx}_exp", K=hidden, R=1, inputs=[x])
                b.add(f"b{idx}_dw", K=hidden, R=3, stride=stride, groups=hidden)
            else:
                b.add(f"b{idx}_dw", K=hidden, R=3, stride=stride, groups=hidden, inputs=[x])
            res = x if stride == 1 and c_in == c else None
            x = b.add(f"b{idx}_proj", K=c, R=1, residual=res)
            c_in = c
    b.add("conv_last", K=1280, R=1)
    b.add("avgpool", op="pool", R=7, pad=0)
    b.add("fc", op="fc", K=1000)
    b.dump("MobileNetV2 (width 1.0), 224x224; depthwise convs via groups")


def tiny() -> None:
    b = Builder("tiny_chain4", c=8, h=16, w=16)
    for i, k in enumerate([16, 32, 32, 16]):
        b.add(f"c{i + 1}", K=k, R=3, stride=2 if i == 1 else 1)
    b.dump("Tiny 4-layer chain for tests")
    b = Builder("tiny_chain6", c=4, h=32, w=32)
    for i, k in enumerate([8, 16, 16, 32, 32, 64]):
        b.add(f"c{i + 1}", K=k, R=3, stride=2 if i in (1, 3) else 1)
    b.dump("Tiny 6-layer chain for tests")
    b = Builder("tiny_residual", c=8, h=16, w=16)
    x = b.add("stem", K=16, R=3)
    b.add("a", K=16, R=3)
    b.add("b", K=16, R=3, residual=x)
    b.add("ds", K=32, R=1, stride=2)
    b.add("c", K=32, R=3, stride=2, inputs=["b"])
    b.add("d", K=32, R=3, residual="ds")
    b.dump("Tiny residual network for tests: one identity block, one downsampling block")


if __name__ == "__main__":
    for depth in (18, 34, 50, 101, 152):
        resnet(depth)
    vgg16()
    alexnet()
    mobilenet_v2()
    tiny()
