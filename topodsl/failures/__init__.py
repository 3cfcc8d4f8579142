"""Failure analysis: any registered analysis under every combination of up to K failures.

The stages, one module each: :mod:`.candidates` (what may fail), :mod:`.damage` (a failure as
masks over the shared arrays), :mod:`.symmetry` (one solve per class of symmetric cases),
:mod:`.engine` (enumeration, Monte Carlo, pruning, statistics: :func:`failure_analysis`) and
:mod:`.assertion` (``assert ... under failures(...)``). See docs/failures.md.

>>> from topodsl import loads
>>> from topodsl.failures import failure_analysis
>>> t = loads('''link l { bandwidth = 50 GB/s }
... cluster c { gpu g[2]; switch s[2]; connect g[*] -- s[*] via l }''')
>>> r = failure_analysis(t, "flow", {"sources": "c.g0", "sinks": "c.g1"}, devices="c.s*")
>>> r.baseline.lower / 1e9, r.worst.lower / 1e9, r.worst.names, r.cases, r.solved
(100.0, 50.0, ('c.s0',), 2, 1)
"""

from .candidates import CandidateError, CandidateSet, select_candidates
from .damage import DamagedTopology, damaged, lost_endpoints
from .engine import CaseValue, FailureResult, MonteCarlo, SizeStats, failure_analysis

__all__ = [
    "CandidateError",
    "CandidateSet",
    "CaseValue",
    "DamagedTopology",
    "FailureResult",
    "MonteCarlo",
    "SizeStats",
    "damaged",
    "failure_analysis",
    "lost_endpoints",
    "select_candidates",
]
