"""The bundled networks: published MAC totals, shape chaining, graph, slicing."""

import networkx as nx
import pytest

from conftest import ROOT
from scope_opt.problem.network_yaml import load_network, model_names

# Published multiply-accumulate counts at 224x224 (torchvision / original papers), in GMACs.
PUBLISHED_GMACS = {
    "resnet18": 1.82, "resnet34": 3.67, "resnet50": 4.11, "resnet101": 7.83, "resnet152": 11.56,
    "vgg16": 15.47, "alexnet": 0.714, "mobilenetv2": 0.300,
    # torchvision's weights.meta["_ops"] (conv, linear and attention-matmul MACs)
    "efficientnet_b0": 0.386, "mobilenet_v3_large": 0.217, "densenet121": 2.834,
}
# torchvision's weights.meta["num_params"] (biases and normalisation included): conv and fc
# weights sit 0.5% to 1.5% below it
TORCHVISION_PARAMS = {"efficientnet_b0": 5288548, "mobilenet_v3_large": 5483032, "densenet121": 7978856}
# Published parameter counts without biases and batch-norm, in millions (weights of conv and fc).
PUBLISHED_MPARAMS = {"resnet50": 25.5, "resnet152": 60.0, "vgg16": 138.3, "mobilenetv2": 3.47}


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_macs_match_published(name):
    net = load_network(ROOT / "models" / f"{name}.yaml")
    assert net.macs / 1e9 == pytest.approx(PUBLISHED_GMACS[name], rel=0.03)


@pytest.mark.parametrize("name", sorted(PUBLISHED_MPARAMS))
def test_weights_match_published(name):
    net = load_network(ROOT / "models" / f"{name}.yaml")
    assert net.weights / 1e6 == pytest.approx(PUBLISHED_MPARAMS[name], rel=0.03)


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_weights_of_the_imported_classifiers_sit_just_under_num_params(name):
    net = load_network(ROOT / "models" / f"{name}.yaml")
    assert 0.985 <= net.weights / TORCHVISION_PARAMS[name] < 1.0


def test_every_bundled_model_loads_and_is_a_dag():
    names = model_names()
    assert {"resnet18", "resnet152", "vgg16", "alexnet", "mobilenetv2", "tiny_chain4"} <= set(names)
    for name in names:
        net = load_network(ROOT / "models" / f"{name}.yaml")
        g = net.graph()
        assert nx.is_directed_acyclic_graph(g)
        # every layer is reachable from the network input
        assert set(nx.descendants(g, "input")) == {layer.name for layer in net.layers}


def test_resnet50_residuals_are_folded():
    net = load_network(ROOT / "models" / "resnet50.yaml")
    with_res = [layer for layer in net.layers if layer.residual]
    assert len(with_res) == 16  # one per bottleneck block
    assert sum(1 for layer in net.layers if layer.name.endswith("ds")) == 4
    for layer in with_res:
        assert net.shape(layer.residual) == layer.out


def test_mobilenet_depthwise_via_groups():
    net = load_network(ROOT / "models" / "mobilenetv2.yaml")
    dw = [layer for layer in net.layers if layer.op == "conv" and layer.groups > 1]
    assert len(dw) == 17 and all(layer.groups == layer.C == layer.K for layer in dw)


def test_slice_turns_cut_producers_into_externals():
    net = load_network(ROOT / "models" / "resnet18.yaml")
    part = net.slice(3, 8)
    assert len(part.layers) == 5
    assert set(part.external) and all(t not in {l.name for l in part.layers} for t in part.external)
    for t, shape in part.external.items():
        assert shape == net.shape(t)
