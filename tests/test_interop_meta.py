"""Free-form metadata on components and links: the language, the Topology, JSON, GraphML."""

from __future__ import annotations

import io

import networkx as nx
import pytest

import topodsl
from topodsl.errors import ElaborationError
from topodsl.io import dumps_json, loads_json, write_graphml

SERVER = """
link pcie5 { bandwidth = 63 GB/s }
def node Server {
    gpu gpu[2] { model = "H100", meta { vendor = "0x10de", sm = 90 } }
    cpu cpu    { meta { numa = 0 } }
    meta gpu[1] { pci_busid = "0000:19:00.0" }
    connect gpu[i] -- cpu via pcie5 { meta { pcie_gen = 5, pcie_width = 16 } }
}
Server srv[2]
meta srv[1].gpu[0] { pci_busid = "0000:18:00.0", serial = "1652" }
"""


def meta_of(topo, node_id):
    return dict(topo.meta(topo.index(node_id)))


def test_component_meta_block_member_meta_and_overrides():
    t = topodsl.loads(SERVER)
    assert meta_of(t, "srv0.gpu0") == {"vendor": "0x10de", "sm": 90}
    assert meta_of(t, "srv0.gpu1") == {"vendor": "0x10de", "sm": 90, "pci_busid": "0000:19:00.0"}
    # A path from the top level reaches into one copy of the definition only.
    assert meta_of(t, "srv1.gpu0") == {
        "vendor": "0x10de",
        "sm": 90,
        "pci_busid": "0000:18:00.0",
        "serial": "1652",
    }
    assert meta_of(t, "srv0.cpu") == {"numa": 0}
    assert meta_of(t, "srv0") == {}
    # model stays an attribute; meta is beside it
    assert t.attributes(t.index("srv1.gpu1"))["model"] == "H100"


def test_link_meta_is_kept_on_every_link_of_the_connection():
    t = topodsl.loads(SERVER)
    assert t.num_links == 4
    assert all(dict(t.link_meta(e)) == {"pcie_gen": 5, "pcie_width": 16} for e in range(4))
    g = t.to_networkx()
    assert all(d["meta"]["pcie_gen"] == 5 for _, _, d in g.edges(data=True))


def test_meta_round_trips_through_json_byte_for_byte():
    t = topodsl.loads(SERVER)
    text = dumps_json(t)
    back = loads_json(text)
    assert dumps_json(back) == text
    assert dict(back.meta(back.index("srv1.gpu0")))["serial"] == "1652"
    assert dict(back.link_meta(0)) == {"pcie_gen": 5, "pcie_width": 16}


def test_graphml_flattens_meta_into_dotted_keys():
    buf = io.BytesIO()
    write_graphml(topodsl.loads(SERVER), buf)
    g = nx.read_graphml(io.BytesIO(buf.getvalue()))
    assert g.nodes["srv1.gpu0"]["meta.serial"] == "1652"
    assert {d["meta.pcie_width"] for _, _, d in g.edges(data=True)} == {16}


@pytest.mark.parametrize(
    "source, message",
    [
        ("node n { gpu g { meta { bw = 25 GB/s } } }", "meta values are text or plain numbers"),
        ('node n { gpu g { meta { a = "x", a = "y" } } }', "meta key 'a' is given twice"),
        ('meta { a = "x" }\nnode n { gpu g }', "a meta block at the top level needs a path"),
        ('node n { gpu g; meta h { a = "x" } }', "no component named 'h'"),
        (
            "link l { bandwidth = 1 GB/s }\nnode n { gpu g[2]\n"
            'connect g[0] -- g[1] via l { meta g[0] { a = "x" } } }',
            "a connection's meta block takes no path",
        ),
    ],
)
def test_meta_mistakes_are_reported_at_their_place(source, message):
    with pytest.raises(ElaborationError) as e:
        topodsl.loads(source, file="m.topo")
    text = e.value.render()
    assert message in text
    assert text.startswith("m.topo:")


@pytest.mark.parametrize(
    "meta", ['{"a": [1]}', '{"a": true}', '"text"'], ids=["list", "bool", "not-an-object"]
)
def test_json_meta_must_be_text_or_numbers(meta):
    doc = '{"nodes": [{"id": "g", "kind": "gpu", "meta": ' + meta + "}]}"
    with pytest.raises(ElaborationError, match="meta"):
        loads_json(doc)
