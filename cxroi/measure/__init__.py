"""Did it work? Measure an initiative after it went live (``cxroi measure``).

One module per part: :mod:`~cxroi.measure.initiative` (the ``I.yaml`` file),
:mod:`~cxroi.measure.panel` (account-month and group-month panels),
:mod:`~cxroi.measure.did` (staggered difference-in-differences),
:mod:`~cxroi.measure.its` (interrupted time series), :mod:`~cxroi.measure.money`
(realised vs promised money), :mod:`~cxroi.measure.update` (the updated scenario),
:mod:`~cxroi.measure.measurement` (end to end) and :mod:`~cxroi.measure.report` (the
executive HTML report). See ``docs/measure.md``.
"""

from cxroi.measure.initiative import Initiative, load_initiative
from cxroi.measure.measurement import Measurement, measure

__all__ = ["Initiative", "Measurement", "load_initiative", "measure"]
