"""The interactive HTML view, opened in a real headless Chromium (Debian's package).

The page is written by ``topodsl render FILE -o view.html``, loaded from disk with the network
shut off, and driven like a person would: a real mouse click on a container expands it, a
hover shows a component's figures, the search box finds a component; screenshots are checked
for what they show (the colours of the kinds drawn). Skipped when Chromium or Playwright is
missing; CI installs both (`.ci/run`).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cli_support import run_topodsl

import topodsl
from topodsl.render.html import page_data, vis_network_source, write_html

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_page(browser, path: Path):
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    # Nothing may be fetched: the page must be self-contained.
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("window.topodsl && window.topodsl.ready", timeout=30_000)
    return page, errors, requests


def click_node(page, node_id: str) -> None:
    """A real mouse click at the node's place on the canvas."""
    pos = page.evaluate(
        """id => { const t = window.topodsl, i = t.indexOf(id);
                   return t.network.canvasToDOM(t.network.getPositions([i])[i]); }""",
        node_id,
    )
    box = page.locator("#graph").bounding_box()
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_function("window.topodsl.ready", timeout=30_000)


def colours_in(png: bytes) -> set[tuple[int, int, int]]:
    from io import BytesIO

    from PIL import Image

    img = Image.open(BytesIO(png)).convert("RGB")
    return {c for _, c in img.getcolors(maxcolors=1 << 20)}


def hexrgb(h: str) -> tuple[int, int, int]:
    return tuple(int(h[i : i + 2], 16) for i in (1, 3, 5))


# -- the file itself -------------------------------------------------------------------------------


def test_the_page_is_self_contained_and_deterministic(tmp_path: Path) -> None:
    topo = topodsl.load(REPO / "topologies" / "small_pod.topo")
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    write_html(topo, a)
    write_html(topo, b)
    text = a.read_text(encoding="utf-8")
    assert a.read_bytes() == b.read_bytes()
    js, _css = vis_network_source()
    assert js[:2000] in text  # the library from the installed pyvis package, inlined
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # nothing loaded from outside
    assert (
        "http://" not in text.split("<script>", 1)[0]
        and "https://" not in text.split("<script>", 1)[0]
    )


def test_page_data_aggregates_links_without_losing_bandwidth() -> None:
    topo = topodsl.load(REPO / "topologies" / "small_pod.topo")
    data = page_data(topo)
    assert [n["id"] for n in data["nodes"]][:3] == ["pod", "pod.node0", "pod.node0.gpu0"]
    ids = [n["id"] for n in data["nodes"]]
    assert ids.index("pod.node2") < ids.index("pod.node3")
    total = sum(link[5] for link in data["links"])
    assert total == pytest.approx(float(topo.links.bandwidth.sum()))
    assert json.loads(json.dumps(data)) == data


def test_a_huge_topology_is_embedded_to_a_depth_that_fits() -> None:
    from benchmarks.clusters import cluster_source

    topo = topodsl.loads(cluster_source(1024), file="c.topo")
    data = page_data(topo, max_embedded=500)
    assert len(data["nodes"]) <= 500
    assert data["folded_below"] is not None
    # Links inside what is folded are hidden; links between embedded parts keep their sums.
    assert sum(link[3] for link in data["links"]) <= topo.num_links


# -- in the browser ------------------------------------------------------------------------------


@needs_browser
def test_expand_a_node_by_clicking_and_see_its_parts(browser, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    proc = run_topodsl("render", str(REPO / "topologies" / "small_pod.topo"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    page, errors, requests = open_page(browser, out)
    shown = page.evaluate("topodsl.visibleIds()")
    # Collapsed by default: the pod's children, none of the GPUs.
    assert "pod.node0" in shown and not any(".gpu" in s for s in shown)
    before = page.screenshot()
    click_node(page, "pod.node0")
    shown = page.evaluate("topodsl.visibleIds()")
    assert {f"pod.node0.gpu{i}" for i in range(8)} <= set(shown)
    assert "pod.node1.gpu0" not in shown
    after = page.screenshot(path=str(tmp_path / "expanded.png"))
    gpu_fill = hexrgb("#d9f0d3")
    assert gpu_fill not in colours_in(before) and gpu_fill in colours_in(after)
    titles = page.evaluate("topodsl.edgeTitles()")
    assert any("of nvlink4" in t and "4 lanes, 100 GB/s per direction" in t for t in titles)
    # Clicking it again collapses it.
    click_node(page, "pod.node0")
    assert "pod.node0.gpu0" not in page.evaluate("topodsl.visibleIds()")
    assert errors == [] and all(u.startswith("file:") for u in requests)


@needs_browser
def test_hover_shows_attributes_in_units(browser, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    write_html(topodsl.load(REPO / "topologies" / "small_pod.topo"), out, depth=2)
    page, errors, _ = open_page(browser, out)
    pos = page.evaluate(
        """() => { const t = window.topodsl, i = t.indexOf("pod.node1.nic3");
                   return t.network.canvasToDOM(t.network.getPositions([i])[i]); }"""
    )
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + pos["x"], box["y"] + pos["y"])
    tip = page.locator("div.vis-tooltip")
    tip.wait_for(state="visible", timeout=10_000)
    text = tip.inner_text()
    assert "pod.node1.nic3" in text and "bandwidth: 50 GB/s" in text
    assert errors == []


@needs_browser
def test_search_expands_to_a_component_and_selects_it(browser, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    write_html(topodsl.load(REPO / "topologies" / "cluster_256.topo"), out)
    page, errors, _ = open_page(browser, out)
    page.fill("#search", "pod.node12.gpu3")
    page.press("#search", "Enter")
    page.wait_for_function("window.topodsl.ready", timeout=30_000)
    assert "pod.node12.gpu3" in page.evaluate("topodsl.visibleIds()")
    assert page.evaluate("topodsl.network.getSelectedNodes()") == [
        page.evaluate("topodsl.indexOf('pod.node12.gpu3')")
    ]
    assert "match" in page.inner_text("#matches")
    assert errors == []


@needs_browser
def test_the_bisection_cut_is_highlighted(browser, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    topo = topodsl.load(REPO / "topologies" / "dgx_h100.topo")
    write_html(topo, out, highlight="bisection")
    page, errors, _ = open_page(browser, out)
    assert "bisection bandwidth" in page.inner_text("#caption")
    shot = page.screenshot(path=str(tmp_path / "cut.png"))
    assert hexrgb("#d7191c") in colours_in(shot)  # the cut's red is drawn
    assert errors == []
