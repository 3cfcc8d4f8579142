"""Imported once by a process pool's fork server: every worker forked from it then starts with
the solvers imported and the parser's tables built, instead of paying for them itself."""

from .. import check  # noqa: F401
from ..parser import parser
from ..solvers import bisection, dataflow, flow  # noqa: F401
from . import point  # noqa: F401

parser()
