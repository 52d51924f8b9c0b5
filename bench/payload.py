"""Realistic report bodies (about 1 KB of JSON) and points inside the demo territory."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

# Inside the demo territory (services/grid/seed/make_territory.py), kept off its jittered edge.
WEST, EAST, SOUTH, NORTH = 118.0712, 118.0833, 24.4500, 24.4580

# Categories the catalog routes to a department, so every report is dispatched at once.
ROUTED_CATEGORIES = (
    "0101", "0102", "0103", "0104", "0201", "0202", "0301", "0302", "0303", "0401", "0402",
    "0403", "0501", "0502", "0503", "0504", "0601", "0602", "0701", "0702",
)  # fmt: skip

STREETS = (
    "中山路",
    "思明南路",
    "镇海路",
    "大同路",
    "鹭江道",
    "新华路",
    "开元路",
    "升平路",
    "霞溪路",
    "人和路",
)
FINDINGS = (
    "水果摊占用人行道，行人只能走机动车道",
    "垃圾桶满溢，周边散落生活垃圾，气味明显",
    "井盖破损下沉约五厘米，夜间存在安全隐患",
    "施工围挡倒伏，砂石遗撒在路面上",
    "店外经营，桌椅摆放到盲道上",
    "电线杆上张贴大量非法小广告",
    "道路积水约二十厘米，车辆通行缓慢",
    "露天烧烤油烟扰民，居民多次投诉",
    "轮渡码头附近有人形迹可疑，疑似扒窃",
    "共享单车乱停放，堵塞消防通道",
)
DETAIL = (
    "已现场拍照取证，并告知摊主限期整改；周边商户反映该问题已持续多日，"
    "早晚高峰尤为严重，请相关部门尽快处置。Reported during the morning patrol; "
    "the owner was told to clear the pavement and shown where stalls may stand. "
    "网格员将于明日上午复查，如仍未整改将拍照上报并抄送社区网格长，同时提醒周边居民注意安全、"
    "绕行通过。The grid worker will check again tomorrow morning and escalate to the grid "
    "leader if nothing has changed; residents nearby were asked to take care when passing. "
)


class ReportFactory:
    """New report bodies, each with a fresh id; deterministic for a given seed."""

    def __init__(self, seed: int = 4, categories: tuple[str, ...] = ROUTED_CATEGORIES) -> None:
        self.random = random.Random(seed)
        self.categories = categories

    def point(self) -> tuple[float, float]:
        return (
            round(self.random.uniform(SOUTH, NORTH), 6),
            round(self.random.uniform(WEST, EAST), 6),
        )

    def report(self, *, now: datetime | None = None) -> dict[str, object]:
        rng = self.random
        lat, lon = self.point()
        street = rng.choice(STREETS)
        number = rng.randint(1, 300)
        seen = (now or datetime.now(UTC)) - timedelta(seconds=rng.randint(60, 3600))
        return {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "category": rng.choice(self.categories),
            "description": f"{street} {number} 号附近：{rng.choice(FINDINGS)}。{DETAIL}"
            f"巡查编号 {rng.randint(100000, 999999)}。",
            "location": {"lat": lat, "lon": lon, "address": f"思明区{street} {number} 号"},
            "seen_at": seen.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "photos": [
                f"https://files.example.org/wangge/{rng.getrandbits(64):016x}.jpg",
                f"https://files.example.org/wangge/{rng.getrandbits(64):016x}.jpg",
            ],
        }

    def body(self) -> tuple[str, bytes]:
        """A report's id and its JSON body."""
        report = self.report()
        return str(report["id"]), json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()
