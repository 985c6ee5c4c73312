"""Export a BERT-base encoder as a user would (Hugging Face transformers' BertModel,
untrained: only shapes matter) with both of PyTorch's exporters: token ids, an
attention mask and token types as its three inputs (issue: modern networks).

    pip install torch==2.14.1 transformers onnxscript   # not project dependencies
    python benchmarks/export_bert.py OUT_DIR [--seq 128]

Writes OUT_DIR/legacy/bert_base_SEQ.onnx (dynamo=False, opset 17) and
OUT_DIR/dynamo/bert_base_SEQ.onnx (the default exporter).  Import them with
`scope-opt import`; the bundled models/bert_base_SEQ.yaml is the same encoder."""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args()
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(), add_pooling_layer=False).eval()
    ids = torch.zeros(1, args.seq, dtype=torch.long)
    inputs = (ids, torch.ones(1, args.seq, dtype=torch.long), torch.zeros(1, args.seq, dtype=torch.long))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    for kind, dynamo in (("legacy", False), ("dynamo", True)):
        path = args.out / kind / f"bert_base_{args.seq}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        if dynamo:
            torch.onnx.export(model, inputs, str(path), dynamo=True, input_names=names, external_data=False)
        else:
            torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=17, input_names=names)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
