"""How a service process is tuned before it serves (``wangge serve``; the bench's baselines too)."""

from __future__ import annotations

import gc

GC_THRESHOLD = 20_000
"""Net new container objects between two youngest-generation collections (Python's default: 700)."""


def tune_gc() -> None:
    """Keep Python's cycle collector off a serving process's hot path.

    With the default thresholds the collector ran a full collection every few seconds under
    load, each walking every object the imports made (86 ms with intake's heap), and took
    23 % of intake's CPU in the intake benchmark (measured with ``gc.callbacks``). Freezing
    what the imports made takes it out of every collection, and a higher first threshold
    makes collections rare: request objects die by reference counting, not by the collector.
    """
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 10, 10)
