"""The names assertions' evaluator had before it became :mod:`topodsl.evaluate` (issue 12).

There is one evaluator of expressions with units, :mod:`topodsl.evaluate`, for elaboration and
assertions alike; an interval of the old name is its :class:`~topodsl.evaluate.Quantity` (an
exact value is the interval of one point). This module only keeps the old names importable for
code written against them; new code imports :mod:`topodsl.evaluate`.

>>> Interval is Quantity and IntervalEvaluator is Evaluator
True
"""

from __future__ import annotations

from .evaluate import FUNCTIONS as MATH_FUNCTIONS
from .evaluate import EvaluationError, Evaluator, Quantity, Record, scaled

__all__ = ["Interval", "Record", "IntervalEvaluator", "EvaluationError", "MATH_FUNCTIONS", "scaled"]

Interval = Quantity
IntervalEvaluator = Evaluator
