"""How a program's result is compared with a case's expectation.

Both sides are brought to one canonical form first: typed floats become their
bit pattern (every NaN alike), sets are sorted, ``delay_seconds`` is rounded to
the nanosecond, and event sequence numbers are checked (strictly increasing) and
dropped. Expectations may use matchers that expand into plain values before the
comparison:

- ``{"$logs": {"format": "line {i}", "count": N, "before": [...], "after": [...]}}``
  in place of an event list: the ``before`` events, then N INFO log events with the
  messages ``format.format(i=0..N-1)``, then the ``after`` events.
- ``{"$contains": ["a", "b"]}`` in place of a string: the string contains each.
- ``{"$any": true}``: anything.

An RPC error's ``metadata`` (its ``ErrorInfo`` metadata) is compared only when the
expected error states it: ``{"error": {"code": ..., "reason": ..., "fields": []}}``
leaves it unchecked.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from typing import Any

Json = Any

_TV_TAGS = frozenset(
    {"null", "bool", "int", "float", "string", "bytes", "list", "tuple", "set", "map"}
)


def compare(expected: Json, actual: Json) -> list[str]:
    """The differences between an expectation and a result; empty when they match."""
    problems: list[str] = []
    actual = _checked_sequences(actual, problems)
    actual = _unchecked_error_metadata(expected, actual)
    _diff(_canonical(_expand(expected)), _canonical(actual), "result", problems)
    return problems


def _checked_sequences(value: Json, problems: list[str]) -> Json:
    """Check and drop ``seq`` in every event list of the result."""
    if isinstance(value, dict):
        events = value.get("events")
        if isinstance(events, list) and all(isinstance(e, dict) and "seq" in e for e in events):
            sequences = [e["seq"] for e in events]
            if any(b <= a for a, b in itertools.pairwise(sequences)):
                problems.append(f"result.events: sequences not strictly increasing: {sequences}")
            if sequences and sequences[0] < 1:
                problems.append("result.events: sequences start below 1")
            value = dict(value, events=[{k: v for k, v in e.items() if k != "seq"} for e in events])
        return {key: _checked_sequences(item, problems) for key, item in value.items()}
    return value


def _is_rpc_error(value: Json) -> bool:
    return isinstance(value, dict) and "code" in value and "reason" in value


def _unchecked_error_metadata(expected: Json, actual: Json) -> Json:
    """``actual`` without the ``metadata`` of each RPC error whose expectation has none."""
    if not isinstance(actual, dict):
        return actual
    wanted = expected if isinstance(expected, dict) else {}
    kept = {}
    for key, item in actual.items():
        if key == "metadata" and _is_rpc_error(actual) and "metadata" not in wanted:
            continue
        kept[key] = _unchecked_error_metadata(wanted.get(key), item)
    return kept


def _expand(value: Json) -> Json:
    if isinstance(value, dict):
        if "$logs" in value:
            spec = value["$logs"]
            logs = [
                {
                    "attempt": spec.get("attempt", 0),
                    "kind": "log",
                    "level": "INFO",
                    "message": spec["format"].format(i=i),
                }
                for i in range(spec["count"])
            ]
            return (
                [_expand(e) for e in spec.get("before", [])]
                + logs
                + [_expand(e) for e in spec.get("after", [])]
            )
        return {key: _expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item) for item in value]
    return value


def _canonical(value: Json, key: str | None = None) -> Json:
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, body),) = value.items()
            if tag == "float" and isinstance(body, str):
                return {"float": _float_bits(body)}
            if tag == "set" and isinstance(body, list):
                items = [_canonical(item) for item in body]
                return {"set": sorted(items, key=lambda item: json.dumps(item, sort_keys=True))}
        return {k: _canonical(item, k) for k, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if key == "delay_seconds" and isinstance(value, (int, float)):
        return round(float(value), 9)
    return value


def _float_bits(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return f"not a float: {text!r}"
    if math.isnan(number):
        return "NaN"
    bits = struct.unpack(">Q", struct.pack(">d", number))[0]
    return f"{number!r} (0x{bits:016x})"


def _diff(expected: Json, actual: Json, path: str, problems: list[str]) -> None:
    if isinstance(expected, dict) and set(expected) == {"$any"}:
        return
    if isinstance(expected, dict) and set(expected) == {"$contains"}:
        if not isinstance(actual, str):
            problems.append(f"{path}: expected a string, got {_show(actual)}")
            return
        missing = [part for part in expected["$contains"] if part not in actual]
        if missing:
            problems.append(f"{path}: {_show(actual)} does not contain {missing}")
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                problems.append(f"{path}.{key}: missing (expected {_show(expected[key])})")
            else:
                _diff(expected[key], actual[key], f"{path}.{key}", problems)
        for key in actual:
            if key not in expected:
                problems.append(f"{path}.{key}: unexpected {_show(actual[key])}")
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            problems.append(
                f"{path}: expected {len(expected)} items, got {len(actual)}: {_show(actual)}"
            )
        for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
            _diff(want, got, f"{path}[{index}]", problems)
            if len(problems) > 20:
                return
        return
    if expected != actual or type(expected) is not type(actual):
        problems.append(f"{path}: expected {_show(expected)}, got {_show(actual)}")


def _show(value: Json, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."
