"""The wheel ships the grammar: build it, install it non-editable in a fresh venv, run it."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (whl,) = out.glob("topodsl-*.whl")
    return whl


def test_wheel_contains_the_grammar(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "topodsl/grammar/topodsl.lark" in names
    assert "topodsl/parser.py" in names


def test_installed_wheel_checks_a_shipped_example(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # A venv of its own, blind to every other site-packages: the wheel brings its declared
    # dependencies (from the registry, or pip's cache after the outer install), so a missing
    # or wrong requirement fails here, on any machine, whatever the base Python holds.
    venv.EnvBuilder(system_site_packages=False, with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    example = REPO / "tests" / "golden" / "ok" / "small_server.topo"
    run = subprocess.run(
        [str(env_dir / "bin" / "topodsl"), "check", str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    where = subprocess.run(
        [str(py), "-c", "import topodsl, sys; print(topodsl.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(env_dir) in where, f"imported topodsl from {where}, not the wheel"
