"""The map of executions finished a moment ago (``store._recent``)."""

from __future__ import annotations

from ophost.server.store._recent import RecentlyFinished


def _recent(**options: float) -> tuple[RecentlyFinished[str], list[float]]:
    now = [100.0]
    return RecentlyFinished(clock=lambda: now[0], **options), now  # type: ignore[arg-type]


def test_an_entry_is_kept_for_its_seconds_and_no_longer() -> None:
    recent, now = _recent(seconds=2.0)
    recent.add("e1", "one", 10)
    now[0] += 2.0
    assert recent.get("e1") == "one"
    now[0] += 0.01
    assert recent.get("e1") is None
    assert len(recent) == 0


def test_the_oldest_leave_first_past_the_count() -> None:
    recent, now = _recent(max_count=2)
    for n in range(3):
        recent.add(f"e{n}", f"v{n}", 1)
        now[0] += 0.1
    assert recent.get("e0") is None
    assert [recent.get("e1"), recent.get("e2")] == ["v1", "v2"]


def test_the_oldest_leave_first_past_the_bytes() -> None:
    recent, _ = _recent(max_bytes=1000)
    recent.add("e0", "v0", 200)
    recent.add("e1", "v1", 200)
    recent.add("e2", "v2", 200)
    recent.add("e3", "v3", 200)
    recent.add("e4", "v4", 250)  # 1050 bytes in all: e0 goes
    assert recent.get("e0") is None
    assert recent.get("e1") == "v1"
    assert recent.get("e4") == "v4"


def test_an_execution_too_large_for_a_quarter_of_the_bytes_is_not_kept() -> None:
    recent, _ = _recent(max_bytes=1000)
    recent.add("small", "s", 250)
    recent.add("large", "l", 251)
    assert recent.get("small") == "s"
    assert recent.get("large") is None


def test_adding_an_id_again_replaces_it_and_clear_forgets_all() -> None:
    recent, _ = _recent(max_bytes=1000)
    recent.add("e1", "old", 200)
    recent.add("e1", "new", 100)
    assert recent.get("e1") == "new"
    assert len(recent) == 1
    recent.clear()
    assert recent.get("e1") is None
