"""The language server, in a real LSP session: ``topodsl lsp`` runs in a subprocess and this
test speaks JSON-RPC to it over its stdin and stdout (initialize, didOpen,
publishDiagnostics, hover, definition, completion, didChange, shutdown, exit)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pygls")

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0


class Client:
    """A minimal LSP client: Content-Length framing over a subprocess's pipes."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "topodsl", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, message: dict) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)
        assert "error" not in reply, reply
        return reply["result"]

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def wait(self, match) -> dict:
        while True:
            try:
                m = self.messages.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(
                    "no answer from the server: " + self.proc.stderr.read1(4096).decode()
                ) from None
            if match(m):
                return m

    def diagnostics(self, uri: str) -> list[dict]:
        m = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )
        return m["params"]["diagnostics"]

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc.stderr.close()


GOOD = """\
import "parts/links.topo"

link nvlink4 { bandwidth = 25 GB/s, latency = 150 ns }
const GPUS = 8

def node Box {
    gpu gpu[GPUS] { bandwidth = 3.35 TB/s }
    nvswitch nvs[2] { ports = 72 }
    connect gpu[*] -- nvs[*] via nvlink4 x9
    connect gpu[0] -- gpu[1] via pcie5_x16
    assert too_much: bisection(gpu[*]) >= 100 TB/s
}

pod p { Box box[2] }
"""

LINKS = "link pcie5_x16 { bandwidth = 63 GB/s }\n"

BAD = """\
link l { bandwidth = 25 GB/s, latency = 5 GB/s }
node n { gpu g { bandwith = 3 TB/s } }
"""


@pytest.fixture()
def client():
    c = Client()
    c.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": None, "capabilities": {}},
    )
    c.notify("initialized", {})
    yield c
    c.close()


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "links.topo").write_text(LINKS)
    path = tmp_path / "box.topo"
    path.write_text(GOOD)
    return path


def open_doc(client: Client, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "topodsl", "version": 1, "text": text}},
    )
    return uri


def pos(text: str, needle: str, nth: int = 0, offset: int = 1) -> dict:
    """LSP position of the ``nth`` occurrence of ``needle`` (plus ``offset`` characters)."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start)
    col = start - (text.rfind("\n", 0, start) + 1)
    return {"line": line, "character": col + offset}


def test_initialize_announces_the_features() -> None:
    c = Client()
    try:
        caps = c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        caps = caps["capabilities"]
        assert caps["hoverProvider"] and caps["definitionProvider"]
        assert "completionProvider" in caps
        assert c.proc.poll() is None
    finally:
        c.close()


def test_diagnostics_are_those_of_check_with_ranges(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "bad.topo"
    path.write_text(BAD)
    diags = client.diagnostics(open_doc(client, path, BAD))
    messages = [d["message"] for d in diags]
    assert any("latency must be a latency or time, got a bandwidth" in m for m in messages)
    assert any("unknown attribute 'bandwith'" in m and "did you mean 'bandwidth'" in m
               for m in messages)  # fmt: skip
    latency = next(d for d in diags if "latency must be" in d["message"])
    # The same place `topodsl check` points at: 1:41, the value, 6 characters.
    assert latency["range"] == {
        "start": {"line": 0, "character": 40},
        "end": {"line": 0, "character": 46},
    }
    assert latency["severity"] == 1
    proc = subprocess.run(
        [sys.executable, "-m", "topodsl", "check", str(path)], capture_output=True, text=True
    )
    assert f"{path}:1:41: error: latency must be" in proc.stderr


def test_a_failing_assertion_is_a_diagnostic_and_fixing_clears_it(
    client: Client, project: Path
) -> None:
    uri = open_doc(client, project, GOOD)
    diags = client.diagnostics(uri)
    fail = [d for d in diags if "too_much" in d["message"]]
    assert fail and fail[0]["message"].startswith("fail: too_much")
    assert fail[0]["range"]["start"]["line"] == 10
    fixed = GOOD.replace("100 TB/s", "100 GB/s")
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]},
    )
    assert client.diagnostics(uri) == []


def test_hover(client: Client, project: Path) -> None:
    uri = open_doc(client, project, GOOD)
    client.diagnostics(uri)

    def hover_at(p: dict) -> str:
        result = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": p})
        return result["contents"]["value"]

    link = hover_at(pos(GOOD, "nvlink4 x9"))
    assert "**link nvlink4**: 25 GB/s per lane per direction, latency 150 ns" in link
    assert "32 links of this type" in link
    gpu = hover_at(pos(GOOD, "gpu[GPUS]", offset=1))
    assert "p.box0.gpu0" in gpu and "15 more alike" in gpu
    assert "bandwidth: 3.35 TB/s" in gpu and "nvlink4 ×18 to nvs: 450 GB/s per direction" in gpu
    kind = hover_at(pos(GOOD, "nvswitch"))
    assert "role *transit*" in kind and "ports" in kind
    kind = hover_at(pos(GOOD, "gpu gpu"))  # the kind, not the component named like it
    assert "role *compute*" in kind
    unit = hover_at(pos(GOOD, "TB/s"))
    assert "TB/s" in unit and "1e+12" in unit


def test_definition(client: Client, project: Path) -> None:
    uri = open_doc(client, project, GOOD)
    client.diagnostics(uri)

    def goto(p: dict) -> dict:
        return client.request(
            "textDocument/definition", {"textDocument": {"uri": uri}, "position": p}
        )

    link = goto(pos(GOOD, "nvlink4 x9"))
    assert link["uri"] == uri and link["range"]["start"] == {"line": 2, "character": 5}
    const = goto(pos(GOOD, "GPUS]"))
    assert const["range"]["start"] == {"line": 3, "character": 6}
    definition = goto(pos(GOOD, "Box box"))
    assert definition["range"]["start"] == {"line": 5, "character": 9}
    imported = goto(pos(GOOD, "pcie5_x16"))
    assert imported["uri"].endswith("parts/links.topo")
    assert imported["range"]["start"] == {"line": 0, "character": 5}
    the_file = goto(pos(GOOD, "import"))
    assert the_file["uri"] == (project.parent / "parts" / "links.topo").as_uri()


def test_completion(client: Client, project: Path) -> None:
    text = GOOD.replace(
        "    assert too_much", "    connect gpu[2] -- gpu[3] via \n    assert too_much"
    )
    uri = open_doc(client, project, text)
    client.diagnostics(uri)

    def complete(p: dict) -> set[str]:
        result = client.request(
            "textDocument/completion", {"textDocument": {"uri": uri}, "position": p}
        )
        return {item["label"] for item in result["items"]}

    after_via = complete(pos(text, "gpu[3] via ", offset=len("gpu[3] via ")))
    assert after_via == {"nvlink4", "pcie5_x16"}
    units = complete(pos(text, "3.35 ", offset=5))
    assert {"TB/s", "GB/s", "Gb/s", "ns"} <= units and "gpu" not in units
    start = complete({"line": 7, "character": 4})
    assert {"gpu", "nvswitch", "connect", "assert", "model", "Box", "GPUS"} <= start
    assert "bandwidth" not in start  # a node (the enclosing Box) has no bandwidth
    in_gpu = complete(pos(text, "bandwidth = 3.35", offset=4))
    assert in_gpu == {"bandwidth"}
    partial = complete(pos(text, "nvswitch nvs", offset=3))
    assert "nvswitch" in partial and "gpu" not in partial
