"""Files a pull request can carry, or point at (issue 11): FIFOs, devices, directories,
symbolic links out of the checkout, huge and sparse files, bytes that are not UTF-8, a
poisoned parser cache; and the CLI's promise of exit 0/1/2 with no traceback."""

from __future__ import annotations

import json
import os
import pickle
import stat
import time
from pathlib import Path

import pytest
from cli_support import run_topodsl

import topodsl
from topodsl import parser as parser_module
from topodsl.errors import TopoError

OK = "cluster c { gpu g[2] }\n"


def error_text(path: Path, **kw) -> str:
    with pytest.raises(TopoError) as info:
        topodsl.load(path, **kw)
    text = info.value.render()
    assert "Traceback" not in text
    return text


# -- the file named, and imports ------------------------------------------------------------------


def test_a_symlink_to_a_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "evil.topo").symlink_to(outside)
    text = error_text(repo / "evil.topo")
    assert "symbolic link" in text and "outside" in text and "root:x" not in text
    r = run_topodsl("check", repo / "evil.topo")
    assert r.returncode == 2 and "root:x" not in r.stderr + r.stdout


def test_a_symlink_inside_the_root_is_followed_and_the_root_stays(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.topo").write_text('import "parts.topo"\n' + OK)
    (tmp_path / "parts.topo").write_text("link l { bandwidth = 1 GB/s }\n")
    (tmp_path / "real" / "parts.topo").write_text("link l { bandwidth = 2 GB/s }\n")
    (tmp_path / "link.topo").symlink_to(tmp_path / "real" / "a.topo")
    # Imports resolve beside the link as named, not beside its target.
    t = topodsl.load(tmp_path / "link.topo")
    assert t.link_types["l"].bandwidth == 1e9


def test_allow_import_outside_lifts_the_symlink_rule(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.topo"
    outside.write_text(OK)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "x.topo").symlink_to(outside)
    assert topodsl.load(tmp_path / "repo" / "x.topo", allow_import_outside=True).num_nodes == 3


def test_an_import_through_a_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.topo").write_text("link l { bandwidth = 1 GB/s }\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "parts.topo").symlink_to(tmp_path / "secret.topo")
    (repo / "main.topo").write_text('import "parts.topo"\n' + OK)
    assert "leaves the directory" in error_text(repo / "main.topo")


@pytest.mark.parametrize("how", ["named", "imported"])
def test_a_fifo_is_refused_at_once(tmp_path: Path, how: str) -> None:
    fifo = tmp_path / "f.topo"
    os.mkfifo(fifo)
    main = fifo
    if how == "imported":
        main = tmp_path / "main.topo"
        main.write_text('import "f.topo"\n' + OK)
    start = time.monotonic()
    r = run_topodsl("check", main, timeout=60)
    assert r.returncode == 2 and "FIFO" in r.stderr, r.stderr
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_devices_are_refused(path: str) -> None:
    assert "character device" in error_text(Path(path))


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.topo").mkdir()
    assert "a directory" in error_text(tmp_path / "d.topo")
    (tmp_path / "m.topo").write_text('import "d.topo"\n' + OK)
    assert "a directory" in error_text(tmp_path / "m.topo")


def test_an_imported_1gb_sparse_file_is_refused_by_size_without_reading(tmp_path: Path) -> None:
    with open(tmp_path / "big.topo", "wb") as fh:
        fh.truncate(2**30)
    (tmp_path / "m.topo").write_text('import "big.topo"\n' + OK)
    start = time.process_time()
    assert "1,073,741,824 bytes" in error_text(tmp_path / "m.topo")
    assert time.process_time() - start < 1


def test_imports_share_one_byte_budget(tmp_path: Path) -> None:
    (tmp_path / "a.topo").write_text("# " + "x" * 150_000 + "\n")
    (tmp_path / "b.topo").write_text("# " + "x" * 150_000 + "\n")
    (tmp_path / "m.topo").write_text('import "a.topo"\nimport "b.topo"\n' + OK)
    assert "may still read" in error_text(tmp_path / "m.topo")


def test_a_50mb_file_is_refused_within_a_second(tmp_path: Path) -> None:
    big = tmp_path / "big.topo"
    big.write_text("cluster c { gpu g[2] }\n" * 2_300_000)
    start = time.process_time()
    assert "the limit is 262,144" in error_text(big)
    assert time.process_time() - start < 1


def test_json_has_its_own_larger_cap(tmp_path: Path) -> None:
    f = tmp_path / "g.json"
    f.write_text('{"nodes": []}' + " " * 2_000_000)
    assert topodsl.load(f).num_nodes == 0
    assert "the limit is 100" in error_text(f, max_bytes=100)


def test_non_utf8_bytes_are_reported_at_their_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.topo"
    f.write_bytes("# ok\ncluster c { gpu g }  # ümlaut \xb3\n".encode("latin-1"))
    text = error_text(f)
    assert text.startswith(f"{f}:2:") and "not UTF-8" in text and "0xfc" in text
    f.write_bytes(b"# \xc3\xa9 two bytes, one character\n\xc3\xa9b\xb3c\n")
    assert error_text(f).startswith(f"{f}:2:3:")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "bom.topo"
    f.write_bytes(b"\xef\xbb\xbf" + OK.encode())
    assert topodsl.load(f).num_nodes == 3


# -- the parser cache -----------------------------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TOPODSL_NO_CACHE", raising=False)
    return tmp_path / "topodsl"


def _fresh_parser():
    parser_module.parser.cache_clear()
    parser_module._parse_memo.cache_clear()
    try:
        return parser_module.parser()
    finally:
        parser_module.parser.cache_clear()


def test_the_cache_is_json_and_is_used(cache_dir: Path) -> None:
    _fresh_parser()
    (path,) = cache_dir.glob("parser-*.json")
    assert json.loads(path.read_text())["key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _fresh_parser().parse("cluster c { gpu g }") is not None


def test_a_pickle_in_the_cache_is_never_run(cache_dir: Path, tmp_path: Path) -> None:
    _fresh_parser()
    (path,) = cache_dir.glob("parser-*.json")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps(Payload()))
    (cache_dir / path.name.replace(".json", ".lark-cache")).write_bytes(pickle.dumps(Payload()))
    assert _fresh_parser().parse("cluster c { gpu g }") is not None
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "group-writable", "garbage", "other-key"])
def test_a_hostile_cache_file_is_ignored_quickly(cache_dir: Path, kind: str) -> None:
    _fresh_parser()
    (path,) = cache_dir.glob("parser-*.json")
    if kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.unlink()
        path.symlink_to("/dev/zero")
    elif kind == "group-writable":
        path.chmod(0o666)
    elif kind == "garbage":
        path.write_text('{"key": "x", "tables": [[[[')
    else:
        doc = json.loads(path.read_text())
        path.write_text(json.dumps({**doc, "key": "0" * 64}))
    start = time.monotonic()
    assert _fresh_parser().parse("cluster c { gpu g }") is not None
    assert time.monotonic() - start < 20


def test_a_cache_folder_writable_by_others_is_not_used(cache_dir: Path) -> None:
    cache_dir.mkdir(mode=0o777)
    cache_dir.chmod(0o777)
    _fresh_parser()
    assert not list(cache_dir.glob("parser-*.json"))


def test_tables_loaded_from_the_cache_parse_like_freshly_built_ones(cache_dir: Path) -> None:
    text = Path(__file__).resolve().parent.parent.joinpath("topologies", "mi300x.topo").read_text()
    _fresh_parser()
    loaded = _fresh_parser()
    built = parser_module.Lark(parser_module._grammar_with_units(), **parser_module._OPTIONS)
    assert loaded.parse(text) == built.parse(text)


# -- the command line ------------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_message_and_exit_2() -> None:
    code = (
        "import sys, topodsl.cli.basic as b\n"
        "def boom(*a, **k): raise ValueError('boom')\n"
        "b.summarize = boom\n"
        "from topodsl.cli import main\n"
        "sys.argv = ['topodsl', 'show', 'tests/golden/ok/small_server.topo']\n"
        "main()\n"
    )
    r = run_topodsl(code=code)
    assert r.returncode == 2
    assert "internal error: ValueError: boom" in r.stderr and "Traceback" not in r.stderr
    assert "bug in topodsl" in r.stderr
    r = run_topodsl(code=code, env_extra={"TOPODSL_TRACEBACK": "1"})
    assert r.returncode == 2 and "Traceback" in r.stderr


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ("const a = floor(1e308*10)\n", ".topo"),
        ("node n { hbm m { capacity = 1e308 B } }\n", ".topo"),
        ('{"nodes": [{"id": "a", "kind": "gpu", "parent": "a"}]}', ".json"),
        ('{"nodes": [{"id": "a", "kind": "hbm", "capacity": NaN}]}', ".json"),
        ('{"graph": "abc", "nodes": []}', ".json"),
    ],
)
@pytest.mark.parametrize("command", [["show", "--json"], ["export"], ["analyze", "reach"]])
def test_bad_input_exits_2_with_a_diagnostic_in_every_command(
    tmp_path: Path, text: str, suffix: str, command: list[str]
) -> None:
    f = tmp_path / f"bad{suffix}"
    f.write_text(text)
    r = run_topodsl(*command[:2], f, *command[2:], timeout=60)
    assert r.returncode == 2, r.stderr
    assert "error:" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


def test_an_import_path_with_a_nul_byte_is_an_error(tmp_path: Path) -> None:
    # Found by the fuzzing campaign: pathlib raised ValueError("embedded null byte").
    f = tmp_path / "m.topo"
    f.write_text('import "a\x00b.topo"\n' + OK)
    assert "NUL character" in error_text(f)


def test_rendering_a_file_without_components_is_no_internal_error(tmp_path: Path) -> None:
    # Found by the fuzzing campaign: the layout took log(0) of an empty picture's width.
    f = tmp_path / "empty.topo"
    f.write_text("link l { bandwidth = 1 GB/s }\n")
    r = run_topodsl("render", f, "-o", tmp_path / "empty.dot")
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
