"""A model fed token ids (BERT as torch.onnx.export writes it, built with onnx.helper, no
torch): the embedding Gathers are the network's input, the ids, the attention mask and
the token types are side inputs, and the mask's arithmetic and the safe softmax fold."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from test_onnx import same_layers
from test_transformers import TokenGraph, attention_block
from scope_opt.errors import InputError
from scope_opt.problem.onnx_import import import_onnx

T, D, VOCAB = 6, 8, 30


def bert_inputs(g: TokenGraph, names=("input_ids", "attention_mask", "token_type_ids")) -> tuple[str, str]:
    """Ids, mask and token types as [1, T] int64 graph inputs; returns (embeddings, mask)."""
    g.inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, [1, T]) for n in names]
    words = g.op("Gather", [g.const(np.zeros((VOCAB, D)), True), "input_ids"], "word_embeddings")
    types = g.op("Gather", [g.const(np.zeros((2, D)), True), "token_type_ids"], "token_type_embeddings")
    x = g.op("Add", [words, types], "embed_add")
    positions = g.op("Gather", [g.const(np.zeros((512, D)), True), g.const(np.arange(T)[None, :])], "position_embeddings")
    x = g.layernorm("embed_ln", g.op("Add", [x, positions], "embed_pos"))
    m = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], "mask_cast", to=TensorProto.FLOAT), g.const([1, 2])], "mask_4d")
    m = g.op("Mul", [g.op("Sub", [g.const(1.0, True), m], "mask_invert"), g.const(-1e4, True)], "mask_scale")
    return x, m


def test_bert_with_token_ids_imports_as_tokens_with_side_inputs(tmp_path):
    g = TokenGraph(T, D, 2)
    x, mask = bert_inputs(g)
    out = g.layernorm("ln1", g.attention("e0", x, mask=mask, safe_softmax=True))
    path = g.save(tmp_path / "bert_ids.onnx", out)
    same_layers(path, """
input: {C: 8, H: 6, W: 1}
layers:
  - {name: embed_ln, op: layernorm}
""" + attention_block("embed_ln") + """  - {name: ln1, op: layernorm}
""")
    report = import_onnx(path)
    assert report.side_inputs == ["input_ids", "attention_mask", "token_type_ids"]
    assert report.folded["Gather (embedding lookup)"] == 2
    assert report.folded["Where (a constant fill)"] == 1
    assert report.folded["IsNaN"] == 1
    assert report.description["input"] == {"C": D, "H": T, "W": 1}


def test_a_where_that_selects_between_data_tensors_is_refused(tmp_path):
    g = TokenGraph(T, D, 1)
    r = g.op("Relu", ["x"], "r")
    out = g.op("Where", [g.op("IsNaN", ["x"], "nan"), r, "x"], "pick")
    with pytest.raises(InputError, match=r"node 'pick' \(Where\): selects between data tensors.*expected Where\(test, constant, x\)"):
        import_onnx(g.save(tmp_path / "w.onnx", out))


def test_two_inputs_without_embedding_lookups_name_the_token_ids(tmp_path):
    g = TokenGraph(T, D, 1)
    g.inputs.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, T, D]))
    out = g.op("Add", ["x", "y"], "sum")
    with pytest.raises(InputError, match=r"graph.input: expected one data input \(or token ids that embedding Gathers read\), "
                                         r"found 2 \(x, y\)"):
        import_onnx(g.save(tmp_path / "two.onnx", out))
