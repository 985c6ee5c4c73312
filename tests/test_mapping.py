"""Mappings: JSON round-trips, validation messages, the two classic constructors."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT
from scope_opt.methods.baselines import layer_sequential, segmented_pipeline
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import load_instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment, load_mapping, mapping_from_dict, save_mapping, validate


@st.composite
def mappings(draw, n_layers=6, chiplets=4):
    """Random valid mappings of a 6-layer network on 4 chiplets (K/H partitions)."""
    cuts = sorted(draw(st.sets(st.integers(1, n_layers - 1))))
    bounds = [0, *cuts, n_layers]
    segments, clusters = [], []
    seg_ends = set(draw(st.sets(st.sampled_from(bounds[1:-1]))) if cuts else set()) | {n_layers}
    used = 0
    for a, b in zip(bounds, bounds[1:]):
        n = draw(st.integers(1, max(1, chiplets - used - (0 if b in seg_ends else 1))))
        n = min(n, chiplets - used) if chiplets - used > 0 else 1
        parts = tuple(draw(st.sampled_from([(n, 1), (1, n)])) for _ in range(a, b))
        clusters.append(Cluster(a, b, n, parts))
        used += n
        if b in seg_ends or used >= chiplets:
            segments.append(Segment(tuple(clusters)))
            clusters, used = [], 0
    if clusters:
        segments.append(Segment(tuple(clusters)))
    return Mapping(tuple(segments))


@given(mappings())
@settings(max_examples=60, deadline=None)
def test_json_round_trip(mp):
    again = mapping_from_dict(json.loads(mp.to_json()))
    assert again == mp


def test_file_round_trip(tmp_path):
    inst = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    mp = layer_sequential(inst)
    save_mapping(mp, tmp_path / "m.json")
    assert load_mapping(tmp_path / "m.json") == mp
    assert evaluate(inst, load_mapping(tmp_path / "m.json")).latency_s == evaluate(inst, mp).latency_s


@pytest.fixture
def inst():
    return load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")


@pytest.mark.parametrize("mp,field,words", [
    (Mapping((Segment((Cluster(0, 2, 1, ((1, 1),) * 2), Cluster(1, 4, 1, ((1, 1),) * 3))),)),
     "segments[0].clusters[1].layers", "overlaps"),
    (Mapping((Segment((Cluster(0, 4, 3, ((3, 1),) * 4),)),)), "segments[0].clusters[0].chiplets", "expected 1..2"),
    (Mapping((Segment((Cluster(0, 2, 2, ((2, 1),) * 2), Cluster(2, 4, 2, ((2, 1),) * 2))),)), "segments[0]", "uses 4 chiplets"),
    (Mapping((Segment((Cluster(0, 4, 2, ((2, 1), (1, 1), (2, 1), (2, 1))),)),)), "partitions[1]", "does not factor"),
    (Mapping((Segment((Cluster(0, 3, 2, ((2, 1),) * 3),)),)), "segments", "every layer"),
    (Mapping((Segment((Cluster(0, 4, 2, ((2, 1),) * 3),)),)), "partitions", "one per layer"),
])
def test_validation_names_the_problem(inst, mp, field, words):
    with pytest.raises(InputError) as err:
        validate(mp, inst, "m.json")
    assert err.value.field.endswith(field) and words in err.value.expected and err.value.source == "m.json"


def test_hybrid_partition_needs_hybrid_space(tmp_path):
    (tmp_path / "i.toml").write_text('[workload]\nmodel = "tiny_chain4"\n[hardware]\nmesh = [2, 2]\n')
    (tmp_path / "h.toml").write_text('[workload]\nmodel = "tiny_chain4"\n[hardware]\nmesh = [2, 2]\n[space]\npartitions = ["hybrid"]\n')
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny_chain4.yaml").write_text((ROOT / "models" / "tiny_chain4.yaml").read_text())
    mp = Mapping((Segment((Cluster(0, 4, 4, ((2, 2),) * 4),)),))
    with pytest.raises(InputError, match="not allowed"):
        validate(mp, load_instance(tmp_path / "i.toml"))
    validate(mp, load_instance(tmp_path / "h.toml"))


def test_layer_sequential_shape(inst):
    mp = layer_sequential(inst)
    assert len(mp.segments) == 4 and all(len(s.clusters) == 1 and s.chiplets == 2 for s in mp.segments)
    for name in ("K", "H"):
        assert all(c.partitions[0] == ((2, 1) if name == "K" else (1, 2)) for c in layer_sequential(inst, name).clusters)
    best = evaluate(inst, mp).latency_s
    assert best <= min(evaluate(inst, layer_sequential(inst, p)).latency_s for p in ("K", "H"))


def test_segmented_pipeline_constructor(inst):
    mp = segmented_pipeline(inst, cuts=[2], chiplets=[1, 1, 1, 1])
    assert [(s.first, s.last, len(s.clusters)) for s in mp.segments] == [(0, 2, 2), (2, 4, 2)]
    assert evaluate(inst, mp).feasible
    with pytest.raises(InputError):
        segmented_pipeline(inst, cuts=[2], chiplets=[1, 1])
