"""Cursors a client could forge: any JSON, encoded the way the services encode theirs."""

from __future__ import annotations

import base64
import json


def forged(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
