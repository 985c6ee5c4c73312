from pathlib import Path

import pytest

from scope_opt.problem.instance import load_instance

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def two_layer():
    return load_instance(DATA / "two_layer.toml")


# Reproducible by default (CI): the same examples every run.  HYPOTHESIS_PROFILE=explore
# draws new random examples, with more of them, to hunt for disagreements.
import os  # noqa: E402

from hypothesis import settings as _hyp  # noqa: E402

_hyp.register_profile("default", derandomize=True)
_hyp.register_profile("explore", derandomize=False, max_examples=200)
_hyp.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
