"""Export the 17 torchvision classifiers to ONNX as a user would, with both of PyTorch's
exporters, and record torchvision's own counts beside them (issue: modern networks).

    pip install torch==2.14.1 torchvision==0.29.1 onnxscript   # not a project dependency
    python benchmarks/export_torchvision.py OUT_DIR [--only NAME ...]

Writes OUT_DIR/legacy/NAME.onnx (torch.onnx.export(..., dynamo=False), opset 17),
OUT_DIR/dynamo/NAME.onnx (the default exporter, dynamo=True) and OUT_DIR/counts.json:
per model, torchvision's `weights.meta["_ops"]` (GMACs of conv, linear and attention
matmuls) and `num_params`, plus the versions used.  Untrained weights (weights=None):
only shapes matter to the importer, and nothing is downloaded."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CLASSIFIERS = ("alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "googlenet", "inception_v3",
               "mobilenet_v2", "mobilenet_v3_large", "regnet_y_400mf", "resnet18", "resnet50", "resnet152",
               "shufflenet_v2_x1_0", "squeezenet1_0", "swin_t", "vgg16", "vit_b_16")
INPUT_SIZE = {"inception_v3": 299}


def export_one(name: str, out: Path) -> dict:
    import torch
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    size = INPUT_SIZE.get(name, 224)
    x = torch.randn(1, 3, size, size)
    times = {}
    for kind, dynamo in (("legacy", False), ("dynamo", True)):
        path = out / kind / f"{name}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        # not under no_grad: there, nn.MultiheadAttention takes a fused fast path that the
        # legacy exporter cannot write (aten::_native_multi_head_attention)
        if dynamo:
            torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17)
        times[kind] = round(time.perf_counter() - t0, 1)
    return {"gmacs": weights.meta["_ops"], "num_params": weights.meta["num_params"], "input": [3, size, size],
            "export_s": times}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    import torch
    import torchvision

    counts_path = args.out / "counts.json"
    counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
    counts["_versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    for name in args.only or CLASSIFIERS:
        print(f"exporting {name} ...", file=sys.stderr, flush=True)
        counts[name] = export_one(name, args.out)
        args.out.mkdir(parents=True, exist_ok=True)
        counts_path.write_text(json.dumps(counts, indent=1) + "\n")


if __name__ == "__main__":
    main()
