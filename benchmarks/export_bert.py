"""Export a BERT-base encoder as a user would (Hugging Face transformers' BertModel,
untrained: only shapes matter) with both of PyTorch's exporters, with token ids, an
attention mask and token types as its three inputs; import each and check it against
the bundled models/bert_base_SEQ.yaml, layer for layer (issue: modern networks).

    pip install torch==2.14.1 transformers onnxscript   # not project dependencies
    python benchmarks/export_bert.py OUT_DIR [--seq 128 512] --export-only   # in torch's venv
    python benchmarks/export_bert.py OUT_DIR [--seq 128 512] --check-only    # in the project's

Writes OUT_DIR/legacy/bert_base_SEQ.onnx (dynamo=False, opset 17) and
OUT_DIR/dynamo/bert_base_SEQ.onnx (the default exporter), and results/bert-import.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["input_ids", "attention_mask", "token_type_ids"]
EXPORTERS = (("legacy", False), ("dynamo", True))


def export(out: Path, seq: int) -> None:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    bert = BertModel(BertConfig(), add_pooling_layer=False).eval()

    class Encoder(torch.nn.Module):
        """The three inputs by name (forward's positional order differs between releases)."""

        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = Encoder().eval()
    ids = torch.zeros(1, seq, dtype=torch.long)
    inputs = (ids, torch.ones(1, seq, dtype=torch.long), torch.zeros(1, seq, dtype=torch.long))
    for kind, dynamo in EXPORTERS:
        path = out / kind / f"bert_base_{seq}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        if dynamo:
            torch.onnx.export(model, inputs, str(path), dynamo=True, input_names=NAMES, external_data=False)
        else:
            torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=17, input_names=NAMES)
        print(f"wrote {path} (torch {torch.__version__})")


def check(kind: str, path: Path, seq: int) -> str:
    """One table row: the import's totals and whether it is the bundled encoder."""
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    from torchvision_import import signature
    from scope_opt.problem.network_yaml import build_network, load_network
    from scope_opt.problem.onnx_import import import_onnx

    t0 = time.perf_counter()
    report = import_onnx(path)
    net = build_network(report.description, str(path), path.stem)
    bundled = load_network(ROOT / "models" / f"bert_base_{seq}.yaml")
    same = signature(net) == signature(bundled)
    return (f"| {seq} | {kind} | {len(net.layers)} | {net.macs:,} | {net.weights:,} | {', '.join(report.side_inputs)} "
            f"| {'yes' if same else 'NO'} | {time.perf_counter() - t0:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seq", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--export-only", action="store_true", help="write the ONNX files (needs torch, transformers)")
    ap.add_argument("--check-only", action="store_true", help="import the files written before (needs scope-opt)")
    args = ap.parse_args()
    if not args.check_only:
        for seq in args.seq:
            export(args.out, seq)
    if args.export_only:
        return
    sys.path.insert(0, str(ROOT))
    from scope_opt.formats.outputs import write_text_atomic

    rows = [check(kind, args.out / kind / f"bert_base_{seq}.onnx", seq) for seq in args.seq for kind, _ in EXPORTERS]
    lines = ["# BERT-base as exported: imported against the bundled encoder", "",
             "Hugging Face BertModel(BertConfig(), add_pooling_layer=False) exported by torch.onnx.export, legacy "
             "(dynamo=False, opset 17) and dynamo (the default); written by benchmarks/export_bert.py.",
             "`same` compares every layer's shape and operands with models/bert_base_SEQ.yaml (names aside).", "",
             "| seq | exporter | layers | MACs | weights | side inputs | same as bundled | import s |",
             "|---|---|---|---|---|---|---|---|", *rows]
    write_text_atomic(ROOT / "results" / "bert-import.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
