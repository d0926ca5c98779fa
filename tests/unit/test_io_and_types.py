"""In, Out, and DagsterType / Nothing: in annotations, as inputs, and in type checks."""

from __future__ import annotations

from typing import Any

import pytest

from ophost import (
    AssetKey,
    DagsterType,
    In,
    InvalidArgumentError,
    Nothing,
    Out,
    TypeCheck,
    TypeCheckContext,
)
from ophost.definitions._types import TypeKind

# Untyped aliases: these tests pass wrong types on purpose.
_In: Any = In
_Out: Any = Out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _In(description=5), "In: description must be a str"),
        (lambda: _In(root_manager_key=1), "In: root_manager_key must be a str"),
        (lambda: _In(metadata=[1]), "In: metadata must be a dict"),
        (lambda: _In(metadata={1: "a"}), "In: metadata keys must be str"),
        (lambda: _In(asset_key="a"), "In: asset_key must be an AssetKey"),
        (lambda: _In(asset_partitions={"p"}), "asset_partitions can only be given with asset_key"),
        (lambda: _Out(is_required=1), "Out: is_required must be a bool"),
        (lambda: _Out(io_manager_key=3), "Out: io_manager_key must be a str"),
        (lambda: _Out(metadata={1: "a"}), "Out: metadata keys must be str"),
        (lambda: _Out(asset_key=["a"]), "Out: asset_key must be an AssetKey"),
    ],
    ids=[
        "in-description",
        "in-root-manager",
        "in-metadata-type",
        "in-metadata-key",
        "in-asset-key",
        "in-partitions-without-key",
        "out-is-required",
        "out-io-manager",
        "out-metadata-key",
        "out-asset-key",
    ],
)
def test_in_out_validation(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        make()


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (In(), {"dagster_type": None, "description": None, "metadata": {}, "asset_key": None}),
        (
            In(int, "d", 3, None, {"k": "v"}, AssetKey("x")),
            {"description": "d", "default_value": 3, "metadata": {"k": "v"}},
        ),
        (Out(), {"is_required": True, "io_manager_key": "io_manager", "metadata": None}),
        (
            Out(str, "d", False, "mgr"),
            {"description": "d", "is_required": False, "io_manager_key": "mgr"},
        ),
    ],
    ids=["in-defaults", "in-positional", "out-defaults", "out-positional"],
)
def test_in_out_fields(declared: In | Out, expected: dict[str, object]) -> None:
    for name, value in expected.items():
        assert getattr(declared, name) == value, name


def test_in_none_type_means_any_and_out_none_means_any() -> None:
    assert In(None).dagster_type is not None
    assert In(None).dagster_type.name == "Any"  # type: ignore[union-attr]
    assert Out(None).dagster_type.name == "Any"  # type: ignore[union-attr]
    assert In().has_default_value is False
    assert In(default_value=None).has_default_value is True


def test_in_out_are_unhashable_value_objects() -> None:
    assert In(int) == In(int)
    with pytest.raises(TypeError):
        hash(In())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type_check_fn": 5, "name": "X"}, "type_check_fn must be callable"),
        ({"type_check_fn": lambda _c, _v: True}, "give a name or a key"),
        ({"type_check_fn": lambda _c, _v: True, "name": 5}, "name must be a str"),
        ({"type_check_fn": lambda _c, _v: True, "key": 5}, "key must be a str"),
        (
            {"type_check_fn": lambda _c, _v: True, "name": "X", "description": 1},
            "description must be a str",
        ),
    ],
    ids=["not-callable", "no-name", "name-type", "key-type", "description-type"],
)
def test_dagster_type_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        DagsterType(**kwargs)


def test_dagster_type_name_and_key_default_to_each_other() -> None:
    by_name = DagsterType(lambda _c, _v: True, name="Even")
    by_key = DagsterType(lambda _c, _v: True, key="pkg.Even")
    assert (by_name.name, by_name.key) == ("Even", "Even")
    assert (by_key.name, by_key.key) == ("pkg.Even", "pkg.Even")
    assert by_name.kind is TypeKind.CUSTOM
    assert not by_name.is_builtin
    assert by_name == DagsterType(lambda _c, _v: False, name="Even")  # equal by key


def test_type_check_normalises_bool_and_passes_context() -> None:
    seen: list[object] = []

    def check(context: object, value: object) -> bool:
        seen.append(context)
        return value == 1

    dtype = DagsterType(check, name="One")
    context = TypeCheckContext(run_id="r", log=None, resources=None)
    assert dtype.type_check(context, 1) == TypeCheck(True)
    assert dtype.type_check(context, 2) == TypeCheck(False)
    assert seen == [context, context]


@pytest.mark.parametrize(
    ("value", "ok", "description"),
    [
        (None, True, None),
        (1, False, "Value must be None, got a <class 'int'>"),
    ],
    ids=["none", "int"],
)
def test_nothing_accepts_only_none(value: object, ok: bool, description: str | None) -> None:
    result = Nothing.type_check(None, value)
    assert result.success is ok
    assert result.description == description
    assert Nothing.is_nothing
