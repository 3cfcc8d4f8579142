"""Every limit on untrusted input, in one place (see ``docs/security.md``).

Each limit is checked *before* the work it bounds is done, and breaking one is an error at the
place in the file that asked for too much, never a hang or a memory error. The numeric range
of expressions is in :mod:`topodsl.numeric`.

At the caps, elaboration stays within half of the 12 GiB that issue 17 allows a million GPUs
(the benchmark cluster at 1,024,000 GPUs, 8.9 million components, fits under the component
cap), leaving the rest for an analysis on CI's 24 GiB machine:

>>> MAX_NODES * BYTES_PER_NODE + MAX_NODES * LINKS_PER_COMPONENT * BYTES_PER_LINK < 6 * 2**30
True
"""

from __future__ import annotations

__all__ = [
    "MAX_SOURCE_BYTES",
    "MAX_JSON_BYTES",
    "MAX_NODES",
    "LINKS_PER_COMPONENT",
    "MAX_STEPS",
    "MAX_DEPTH",
    "MAX_PORTS",
    "MAX_LANES",
    "BYTES_PER_NODE",
    "BYTES_PER_LINK",
]

#: Bytes of ``.topo`` source one load reads: the file named plus everything it imports.
#: Parsing and building the AST run at about 22,000 tokens (50 KB) per CPU second, so a file
#: at the cap costs about 5 s (benchmarks/bench_limits.py); larger graphs belong in JSON.
MAX_SOURCE_BYTES = 256 * 2**10
#: Bytes of one node-link JSON file (a 64-ary fat tree exports to about 40 MB).
MAX_JSON_BYTES = 256 * 2**20
#: Components one file may make (``topodsl.load(..., max_nodes=N)`` raises it). It follows
#: memory: 10 million components and 20 million links elaborate in about 6 GB (the figures
#: below); the million-GPU benchmark cluster (8.9 M components, 14.3 M links) peaks at about
#: 3.8 GiB after elaboration, 5.6 GiB after its bisection (benchmarks/bench_million.py). Row
#: numbers under the cap stay far below 2**31, so the int32 columns hold them.
MAX_NODES = 10_000_000
#: Links per component allowed: the link cap is this times ``max_nodes``.
LINKS_PER_COMPONENT = 2
#: Peak bytes of elaboration per component and per link, measured (benchmarks/bench_limits.py).
BYTES_PER_NODE = 340
BYTES_PER_LINK = 129
#: Statements ``for`` loops may run in one file, counted before each loop starts (each takes
#: about 0.1 ms; a connection over an index makes all its links in one statement).
MAX_STEPS = 100_000
#: Nesting of the syntax tree (blocks, parentheses, operator chains such as ``1+1+...+1``).
MAX_DEPTH = 150
#: Largest ``ports`` value (the column is int32).
MAX_PORTS = 2**31 - 1
#: Largest lane count of one connection.
MAX_LANES = 1_000_000
