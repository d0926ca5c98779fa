"""AssetKey: construction, string forms, comparison, and the additions of newer Dagster."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ophost.definitions._asset_key import AssetKey
from ophost.errors import InvalidArgumentError, OpHostError

# Components drawn mostly from the characters the string forms treat specially.
component = st.text(alphabet=st.sampled_from(["a", "b", "/", "\\", ">", ".", " ", "é", '"']))
any_component = st.one_of(component, st.text())
keys = st.lists(any_component, max_size=6).map(AssetKey)


# --- construction --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: AssetKey("a"), ["a"]),
        (lambda: AssetKey("a/b"), ["a/b"]),  # a str is one component, never split
        (lambda: AssetKey(["a", "b"]), ["a", "b"]),
        (lambda: AssetKey(("a", "b")), ["a", "b"]),
        (lambda: AssetKey(path=["a", "b"]), ["a", "b"]),
        (lambda: AssetKey([]), []),
        (lambda: AssetKey(""), [""]),
        (
            lambda: AssetKey(["a b", 'q"uote', "é", "x/y", "back\\slash"]),
            ["a b", 'q"uote', "é", "x/y", "back\\slash"],
        ),
    ],
    ids=[
        "str",
        "str-with-slash",
        "list",
        "tuple",
        "keyword",
        "empty-list",
        "empty-str",
        "any-characters",
    ],
)
def test_construction(build: Callable[[], AssetKey], path: list[str]) -> None:
    key = build()
    assert key.path == path
    assert type(key.path) is list
    assert key.parts == tuple(path)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (None, 'AssetKey: "path" must be a str or a list or tuple of str, got None'),
        (5, 'AssetKey: "path" must be a str or a list or tuple of str, got int'),
        ({"a"}, 'AssetKey: "path" must be a str or a list or tuple of str, got set'),
        (b"a", 'AssetKey: "path" must be a str or a list or tuple of str, got bytes'),
        (["a", 1], 'AssetKey: "path" must contain only str, got int at index 1'),
        ([None], 'AssetKey: "path" must contain only str, got None at index 0'),
    ],
    ids=["none", "int", "set", "bytes", "int-element", "none-element"],
)
def test_construction_errors(arg: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey(arg)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_no_varargs_form() -> None:
    # AssetKey("a", "b") is a TypeError: the constructor has no varargs form.
    with pytest.raises(TypeError):
        AssetKey("a", "b")  # type: ignore[call-arg]


def test_path_is_a_copy_and_key_is_immutable() -> None:
    key = AssetKey(["a"])
    key.path.append("b")
    assert key.path == ["a"]
    with pytest.raises(AttributeError, match="immutable"):
        key.path = ["b"]  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del key._parts


def test_pickle_and_copy_round_trip() -> None:
    key = AssetKey(["a", "b/c"])
    assert pickle.loads(pickle.dumps(key)) == key
    assert copy.copy(key) == key
    assert copy.deepcopy(key) == key
    assert not dataclasses.is_dataclass(key)


# --- methods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "legacy", "expected"),
    [
        (["a", "b"], False, '["a", "b"]'),
        (["é"], False, '["\\u00e9"]'),
        (['a"b'], False, '["a\\"b"]'),
        ([""], False, '[""]'),
        ([], False, None),  # 0.14: no string for the empty key (documented choice)
        (["a", "b"], True, "a.b"),
        ([], True, ""),
    ],
    ids=[
        "plain",
        "non-ascii-escaped",
        "quote-escaped",
        "empty-component",
        "empty-key",
        "legacy",
        "legacy-empty",
    ],
)
def test_to_string(path: list[str], legacy: bool, expected: str | None) -> None:
    assert AssetKey(path).to_string(legacy=legacy) == expected


def test_to_string_legacy_must_be_bool() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey("a").to_string(legacy=1)  # type: ignore[arg-type]
    assert str(info.value) == 'AssetKey.to_string: "legacy" must be a bool, got int'


# to_user_string / from_user_string use "/" as the delimiter (Dagster 0.15+; 0.14 uses ">"),
# with backslash escapes for components that hold "/" or "\".
@pytest.mark.parametrize(
    ("path", "user_string"),
    [
        (["a", "b"], "a/b"),
        (["a"], "a"),
        (["a>b"], "a>b"),  # ">" was the 0.14 delimiter; it is an ordinary character now
        ([""], ""),
        (["a", ""], "a/"),
        (["", ""], "/"),
        (["a/b"], "a\\/b"),
        (["a\\b"], "a\\\\b"),
        (["\\", "/"], "\\\\/\\/"),
        ([], "\\"),  # the empty key has its own spelling, so that it round-trips
    ],
    ids=[
        "two",
        "one",
        "old-delimiter",
        "empty-component",
        "trailing-empty",
        "two-empty",
        "slash",
        "backslash",
        "both",
        "empty-key",
    ],
)
def test_user_string_table(path: list[str], user_string: str) -> None:
    assert AssetKey(path).to_user_string() == user_string
    assert AssetKey.from_user_string(user_string) == AssetKey(path)


@pytest.mark.parametrize(
    ("user_string", "message"),
    [
        ("a\\b", "the backslash at index 1 of 'a\\\\b' is not followed by"),
        ("a\\", "the backslash at index 1 of 'a\\\\' is not followed by"),
        ("\\\\\\", "the backslash at index 2 of"),
    ],
    ids=["backslash-letter", "trailing-backslash", "odd-backslashes"],
)
def test_from_user_string_rejects_stray_backslashes(user_string: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey.from_user_string(user_string)
    assert str(info.value).startswith(f"AssetKey.from_user_string: {message}")


def test_from_user_string_requires_str() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey.from_user_string(["a"])  # type: ignore[arg-type]
    assert str(info.value) == 'AssetKey.from_user_string: "user_string" must be a str, got list'


@given(keys)
def test_user_string_round_trips_for_every_key(key: AssetKey) -> None:
    assert AssetKey.from_user_string(key.to_user_string()) == key


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="/\\")), min_size=1))
def test_user_string_is_the_plain_join_without_special_characters(path: list[str]) -> None:
    # Keys without "/" or "\" read exactly as in Dagster 0.15 and later.
    assert AssetKey(path).to_user_string() == "/".join(path)


@pytest.mark.parametrize(
    ("db_string", "expected"),
    [
        (None, None),
        ("", None),
        ('["a", "b"]', AssetKey(["a", "b"])),
        ('["a/b.c"]', AssetKey(["a/b.c"])),
        ("[]", AssetKey([])),
        ("a.b-c d", AssetKey(["a", "b", "c", "d"])),
        ("..a..", AssetKey(["a"])),
        ("é/x", AssetKey(["x"])),
        ("[not json", AssetKey(["not", "json"])),
        ("[" * 100_000, AssetKey([])),
    ],
    ids=[
        "none",
        "empty",
        "json",
        "json-keeps-separators",
        "json-empty",
        "legacy-split",
        "legacy-drops-empties",
        "legacy-non-ascii",
        "bad-json-falls-back",
        "deep-json-falls-back",
    ],
)
def test_from_db_string(db_string: str | None, expected: AssetKey | None) -> None:
    assert AssetKey.from_db_string(db_string) == expected


@pytest.mark.parametrize(
    ("db_string", "message"),
    [
        (
            '["a", 1]',
            'AssetKey.from_db_string: "asset_key_string" must contain only str, got int at index 1',
        ),
        (5, 'AssetKey.from_db_string: "asset_key_string" must be a str or None, got int'),
    ],
    ids=["json-non-str", "not-a-str"],
)
def test_from_db_string_errors(db_string: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey.from_db_string(db_string)  # type: ignore[arg-type]
    assert str(info.value) == message


@given(st.lists(any_component, min_size=1, max_size=5))
def test_db_string_round_trips(path: list[str]) -> None:
    key = AssetKey(path)
    assert AssetKey.from_db_string(key.to_string()) == key


@pytest.mark.parametrize(
    ("path", "legacy", "expected"),
    [
        (["a", "b"], False, '["a", "b'),
        (("a",), False, '["a'),
        ([], False, ""),
        (["a", "b"], True, "a.b"),
    ],
    ids=["list", "tuple", "empty", "legacy"],
)
def test_get_db_prefix(path: list[str], legacy: bool, expected: str) -> None:
    assert AssetKey.get_db_prefix(path, legacy=legacy) == expected
    if path and not legacy:
        assert AssetKey(path).to_string().startswith(expected)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("ab", 'AssetKey.get_db_prefix: "path" must be a list of str, got str'),
        ([1], 'AssetKey.get_db_prefix: "path" must contain only str, got int at index 0'),
    ],
    ids=["str", "int-element"],
)
def test_get_db_prefix_errors(path: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey.get_db_prefix(path)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("graphql_input", "expected"),
    [
        ({"path": ["a", "b"]}, AssetKey(["a", "b"])),
        ({"path": "a"}, AssetKey(["a"])),
        (None, None),
        ({}, None),
        ({"path": []}, None),
        ({"path": None}, None),
        ({"other": ["a"]}, None),
    ],
    ids=["path", "str-path", "none", "empty", "empty-path", "none-path", "missing-path"],
)
def test_from_graphql_input(graphql_input: object, expected: AssetKey | None) -> None:
    assert AssetKey.from_graphql_input(graphql_input) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("graphql_input", "message"),
    [
        (
            "a",
            'AssetKey.from_graphql_input: "graphql_input_asset_key" must be a mapping or '
            "None, got str",
        ),
        (
            {"path": [1]},
            'AssetKey.from_graphql_input: "path" must contain only str, got int at index 0',
        ),
        (
            {"path": 5},
            'AssetKey.from_graphql_input: "path" must be a str or a list or tuple of str, got int',
        ),
    ],
    ids=["not-a-mapping", "int-element", "int-path"],
)
def test_from_graphql_input_errors(graphql_input: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey.from_graphql_input(graphql_input)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("a/b", ["a/b"]),
        (["a", "b"], ["a", "b"]),
        (("a", "b"), ["a", "b"]),
        ([], []),
    ],
    ids=["str", "list", "tuple", "empty"],
)
def test_from_coerceable(arg: object, expected: list[str]) -> None:
    assert AssetKey.from_coerceable(arg).path == expected  # type: ignore[arg-type]


def test_from_coerceable_returns_a_key_unchanged() -> None:
    key = AssetKey(["a"])
    assert AssetKey.from_coerceable(key) is key


def test_from_coercible_is_an_alias() -> None:
    # Added in newer Dagster: AssetKey.from_coercible, an alias of from_coerceable.
    assert AssetKey.from_coercible is AssetKey.from_coerceable
    assert AssetKey.from_coercible(["a"]) == AssetKey("a")


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (5, 'AssetKey.from_coerceable: "arg" must be a str or a list or tuple of str, got int'),
        (None, 'AssetKey.from_coerceable: "arg" must be a str or a list or tuple of str, got None'),
        ([1], 'AssetKey.from_coerceable: "arg" must contain only str, got int at index 0'),
    ],
    ids=["int", "none", "int-element"],
)
def test_from_coerceable_errors(arg: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey.from_coerceable(arg)  # type: ignore[arg-type]
    assert str(info.value) == message


# Added in newer Dagster: AssetKey.with_prefix.
@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a", ["a", "z"]),
        (["x", "y"], ["x", "y", "z"]),
        (("x",), ["x", "z"]),
        ([], ["z"]),
        ("a/b", ["a/b", "z"]),
    ],
    ids=["str", "list", "tuple", "empty", "str-not-split"],
)
def test_with_prefix(prefix: str | list[str], expected: list[str]) -> None:
    key = AssetKey("z")
    assert key.with_prefix(prefix) == AssetKey(expected)
    assert key == AssetKey("z")


def test_with_prefix_errors() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey("z").with_prefix(5)  # type: ignore[arg-type]
    assert str(info.value) == (
        'AssetKey.with_prefix: "prefix" must be a str or a list or tuple of str, got int'
    )


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(["a"], True), (["a", "b"], True), ([], True), (["b"], False), (["a", "b", "c"], False)],
    ids=["first", "whole", "empty", "other", "longer"],
)
def test_has_prefix(prefix: list[str], expected: bool) -> None:
    assert AssetKey(["a", "b"]).has_prefix(prefix) is expected


def test_has_prefix_needs_a_list() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AssetKey(["a"]).has_prefix("a")
    assert str(info.value) == 'AssetKey.has_prefix: "prefix" must be a list of str, got str'


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (AssetKey(["a", "b"]), "AssetKey(['a', 'b'])"),
        (AssetKey([]), "AssetKey([])"),
        (AssetKey("it's"), 'AssetKey(["it\'s"])'),
    ],
    ids=["two", "empty", "quote"],
)
def test_repr_and_str(key: AssetKey, text: str) -> None:
    assert repr(key) == text
    assert str(key) == text


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (AssetKey(["a"]), AssetKey("a"), True),
        (AssetKey(("a", "b")), AssetKey(["a", "b"]), True),
        (AssetKey([]), AssetKey([]), True),
        (AssetKey(["a", "b"]), AssetKey(["a/b"]), False),
        (AssetKey([]), AssetKey([""]), False),
        (AssetKey(["a"]), ["a"], False),
        (AssetKey(["a"]), ("a",), False),
        (AssetKey(["a"]), "a", False),
    ],
    ids=[
        "str-vs-list",
        "tuple-vs-list",
        "empty",
        "split-differs",
        "empty-vs-empty-component",
        "vs-list",
        "vs-tuple",
        "vs-str",
    ],
)
def test_equality(left: AssetKey, right: object, equal: bool) -> None:
    assert (left == right) is equal
    assert (left != right) is not equal


@given(keys)
def test_hash_is_the_hash_of_the_component_tuple(key: AssetKey) -> None:
    assert hash(key) == hash(tuple(key.path))
    assert hash(key) == hash(AssetKey(list(key.path)))
    assert {key: 1}[AssetKey(key.path)] == 1


def test_ordering_is_lexicographic_over_components() -> None:
    ordered = [AssetKey([]), AssetKey(["a"]), AssetKey(["a", "z"]), AssetKey(["b"])]
    assert sorted([ordered[2], ordered[3], ordered[0], ordered[1]]) == ordered
    assert AssetKey(["a"]) < AssetKey(["a", "z"]) < AssetKey(["b"])
    assert AssetKey(["b"]) > AssetKey(["a", "z"]) >= AssetKey(["a", "z"])
    assert AssetKey(["a"]) <= AssetKey(["a"])


def test_ordering_against_other_types_is_not_defined() -> None:
    with pytest.raises(TypeError):
        _ = AssetKey(["a"]) < ("b",)


# --- no stray Python errors on bad input -------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=6),
    st.binary(max_size=3),
    st.lists(st.integers() | st.text(max_size=2) | st.none(), max_size=3),
    st.tuples(st.integers()),
    st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=2) | st.lists(st.none())),
    st.sets(st.integers(), max_size=2),
    st.just(object()),
)

CALLS: list[Callable[[Any], object]] = [
    AssetKey,
    AssetKey.from_user_string,
    AssetKey.from_db_string,
    AssetKey.get_db_prefix,
    lambda x: AssetKey.get_db_prefix(["a"], x),
    AssetKey.from_graphql_input,
    AssetKey.from_coerceable,
    AssetKey("a").with_prefix,
    AssetKey("a").has_prefix,
    lambda x: AssetKey("a").to_string(x),
]


@pytest.mark.parametrize("call", CALLS, ids=range(len(CALLS)))
@given(arg=junk)
def test_bad_input_raises_only_ophost_errors(call: Callable[[Any], object], arg: object) -> None:
    try:
        call(arg)
    except OpHostError:
        pass
