"""The conformance runner's comparison: it must catch what a wrong client would report."""

from __future__ import annotations

from tests.conformance.normalise import compare


def test_equal_results_match() -> None:
    value = {"outputs": {"result": {"map": [[{"string": "a"}, {"int": "1"}]]}}}
    assert compare(value, value) == []


def test_floats_compare_by_value_and_sign() -> None:
    assert compare({"v": {"float": "NaN"}}, {"v": {"float": "nan"}}) == []
    assert compare({"v": {"float": "1e-07"}}, {"v": {"float": "1e-7"}}) == []
    assert compare({"v": {"float": "-0.0"}}, {"v": {"float": "-0"}}) == []
    assert compare({"v": {"float": "-0.0"}}, {"v": {"float": "0"}}) != []
    assert compare({"v": {"float": "2.0"}}, {"v": {"int": "2"}}) != []


def test_sets_ignore_order_but_lists_and_maps_do_not() -> None:
    one, two = {"int": "1"}, {"int": "2"}
    assert compare({"v": {"set": [one, two]}}, {"v": {"set": [two, one]}}) == []
    assert compare({"v": {"list": [one, two]}}, {"v": {"list": [two, one]}}) != []
    entries = [[{"string": "a"}, one], [{"string": "b"}, two]]
    assert compare({"v": {"map": entries}}, {"v": {"map": entries[::-1]}}) != []


def test_missing_and_unexpected_keys_are_reported() -> None:
    problems = compare({"a": 1, "b": 2}, {"a": 1, "c": 3})
    assert problems == ["result.b: missing (expected 2)", "result.c: unexpected 3"]


def test_true_is_not_one() -> None:
    assert compare({"v": True}, {"v": 1}) != []


def test_event_sequences_must_increase_and_are_then_ignored() -> None:
    expected = {"events": [{"kind": "a"}, {"kind": "b"}]}
    assert compare(expected, {"events": [{"seq": 1, "kind": "a"}, {"seq": 5, "kind": "b"}]}) == []
    problems = compare(expected, {"events": [{"seq": 2, "kind": "a"}, {"seq": 2, "kind": "b"}]})
    assert any("strictly increasing" in problem for problem in problems)


def test_log_matcher_expands_to_every_line_in_order() -> None:
    expected = {"events": {"$logs": {"format": "line {i}", "count": 3, "after": [{"kind": "end"}]}}}
    logs = [
        {"attempt": 0, "kind": "log", "level": "INFO", "message": f"line {i}"} for i in range(3)
    ]
    assert compare(expected, {"events": [*logs, {"kind": "end"}]}) == []
    assert compare(expected, {"events": [logs[0], logs[2], logs[1], {"kind": "end"}]}) != []
    assert compare(expected, {"events": [*logs[:2], {"kind": "end"}]}) != []


def test_contains_matcher() -> None:
    expected = {"message": {"$contains": ["echo", "[2]"]}}
    assert compare(expected, {"message": "op 'echo': inputs.value[2]: bad"}) == []
    assert compare(expected, {"message": "inputs.value[2]: bad"}) != []


def test_error_metadata_is_compared_only_when_expected() -> None:
    error = {"code": "PERMISSION_DENIED", "reason": "PERMISSION_DENIED", "fields": []}
    actual = {"error": error | {"metadata": {"identity": "bob", "action": "run", "op": "x"}}}
    assert compare({"error": error}, actual) == []
    assert compare({"second": {"error": error}}, {"second": actual}) == []
    want = {"identity": "bob", "action": "run", "op": "x"}
    assert compare({"error": error | {"metadata": want}}, actual) == []
    assert compare({"error": error | {"metadata": want | {"op": "y"}}}, actual) != []
    assert compare({"error": error | {"metadata": {}}}, actual) != []
    any_op = want | {"op": {"$any": True}}
    assert compare({"error": error | {"metadata": any_op}}, actual) == []
    # Event metadata (a list of entries) is always compared.
    event = {"kind": "expectation_result", "metadata": [["rows", "int_value"]]}
    assert compare({"e": event}, {"e": event | {"metadata": []}}) != []
