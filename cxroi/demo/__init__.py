"""The demo company and its shapes: companies generated from KNOWN parameters.

* :mod:`cxroi.demo.parameters` - :class:`DemoTruth`, the known parameters.
* :mod:`cxroi.demo.generator` - :func:`generate_demo` / :func:`generate_company` simulate a
  company's accounts, complaints, surveys and orders from a :class:`DemoTruth`
  (:mod:`cxroi.demo.answers`: the survey answer scales).
* :mod:`cxroi.demo.dataset` - :func:`write_demo` writes ``data/demo``, :func:`load_truth`
  reads its ``truth.yaml``.
* :mod:`cxroi.demo.shapes` - :data:`SHAPES`, the shapes real companies have (strong, weak or
  no effect of resolution time; surveys tied to tickets or not; emotions or not).
* :mod:`cxroi.demo.truth` - :func:`true_value`, the TRUE money of an initiative for a
  generated company, by simulating the same company forward with and without it.
"""

from cxroi.demo.dataset import DemoFiles, load_truth, write_demo
from cxroi.demo.generator import Company, generate_company, generate_demo
from cxroi.demo.parameters import DEFAULT_SEGMENTS, SURVEY_SHAPES, DemoTruth, SegmentTruth
from cxroi.demo.shapes import SHAPES, shape
from cxroi.demo.truth import MONEY_LINES, true_value

__all__ = [
    "DEFAULT_SEGMENTS", "MONEY_LINES", "SHAPES", "SURVEY_SHAPES", "Company", "DemoFiles", "DemoTruth",
    "SegmentTruth", "generate_company", "generate_demo", "load_truth", "shape", "true_value", "write_demo",
]
