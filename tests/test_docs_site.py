"""The documentation site builds with ``mkdocs build --strict`` (a broken link or a missing page
fails), and its ``.topo`` examples are highlighted by topodsl's Pygments lexer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")

REPO = Path(__file__).resolve().parent.parent


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
         "-d", str(site)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = build(REPO / "mkdocs.yml", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_every_page_is_built(site: Path) -> None:
    for md in (REPO / "docs").glob("*.md"):
        page = site / ("index.html" if md.stem == "index" else f"{md.stem}/index.html")
        assert page.is_file(), md.name


def test_topo_examples_are_highlighted_by_the_lexer(site: Path) -> None:
    html = (site / "language" / "index.html").read_text(encoding="utf-8")
    assert '<span class="kt">gpu</span>' in html  # a kind, by TopodslLexer
    assert '<span class="kc">GB/s</span>' in html  # a unit
    assert '<span class="k">connect</span>' in html


def test_images_of_the_rendering_page_are_in_the_site(site: Path) -> None:
    html = (site / "rendering" / "index.html").read_text(encoding="utf-8")
    assert "images/" in html
    for name in (REPO / "docs" / "images").iterdir():
        assert (site / "images" / name.name).is_file()


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\nSee [the missing page](missing.md).\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        "site_name: x\ndocs_dir: docs\ntheme:\n  name: material\n"
        "validation:\n  links:\n    not_found: warn\n"
    )
    proc = build(config, tmp_path / "site")
    assert proc.returncode != 0
    assert "missing.md" in proc.stderr
