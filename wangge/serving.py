"""How a service process is tuned before it serves (``wangge serve``; the bench's baselines too): the
cycle collector, and logging."""

from __future__ import annotations

import copy
import gc
from typing import Any

import uvicorn.config

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


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with the services' own loggers (``wangge.*``) beside it at ``level``.

    Without it only their warnings reached stderr, through :data:`logging.lastResort`, bare:
    no time, no level, no logger name; their info lines not at all.
    """
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["wangge"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(asctime)s %(name)s: %(message)s",
    }
    config["handlers"]["wangge"] = {
        "formatter": "wangge",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["wangge"] = {"handlers": ["wangge"], "level": level.upper(), "propagate": False}
    return config
