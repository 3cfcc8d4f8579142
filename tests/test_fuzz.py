"""A short fuzzing run in every CI run, over every category of ``fuzz/`` (issue 11).

Hypothesis draws the case numbers, so a failure shrinks to one case that replays alone with
``python -m fuzz --replay SEED:CATEGORY:N``. Profiles, chosen with ``TOPODSL_FUZZ_PROFILE``:

* ``fuzz-ci`` (default): 150 cases per category, about half a minute in all;
* ``fuzz-long``: 100,000 cases per category, a few hours; for one command that runs a given
  time, use ``python -m fuzz --minutes 60`` instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fuzz import generators as gen  # noqa: E402
from fuzz.__main__ import _describe  # noqa: E402
from fuzz.engine import run_case  # noqa: E402

settings.register_profile(
    "fuzz-ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz-long",
    max_examples=100_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = settings.get_profile(os.environ.get("TOPODSL_FUZZ_PROFILE", "fuzz-ci"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(REPO / "topologies" / "parts", work / "parts")
    return work


@pytest.mark.parametrize("category", gen.CATEGORIES)
@settings(PROFILE)
@given(n=st.integers(min_value=0, max_value=2**32))
def test_no_input_breaks_the_promise(category: str, n: int, workdir: Path) -> None:
    finding = run_case(category, "ci", n, workdir)
    assert finding is None, _describe(finding)


def test_the_corpus_is_documented_and_every_seed_is_used() -> None:
    readme = (REPO / "fuzz" / "corpus" / "README.md").read_text()
    for seed in sorted((REPO / "fuzz" / "corpus").iterdir()):
        if seed.name != "README.md":
            assert seed.name in readme, f"{seed.name} is not described in the corpus README"
    assert len(gen.topo_seeds()) >= 30 and len(gen.json_seeds()) >= 10
