from pathlib import Path

import pytest

from scope_opt.instance import load_instance

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def two_layer():
    return load_instance(DATA / "two_layer.toml")
