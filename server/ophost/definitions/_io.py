"""``In`` and ``Out``: declarations of an op's inputs and outputs.

``In``/``Out`` are what authors write; :class:`InputDefinition` and
:class:`OutputDefinition` are the resolved, named forms an :class:`OpDefinition`
holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._config._field import NO_DEFAULT
from ophost.definitions._metadata import MetadataEntry, normalize_metadata
from ophost.definitions._type_resolution import NOT_SET, resolve_dagster_type
from ophost.definitions._types import Any_, DagsterType
from ophost.errors import InvalidArgumentError

__all__ = ["NO_DEFAULT", "In", "InputDefinition", "Out", "OutputDefinition"]


def _check_str(owner: str, arg: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(f"{owner}: {arg} must be a str, got {type(value).__name__}")


def _check_metadata_keys(owner: str, metadata: object) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"{owner}: metadata must be a dict, got {type(metadata).__name__}"
        )
    for key in metadata:
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f"{owner}: metadata keys must be str, got {type(key).__name__}"
            )


class In:
    """Declares an input: its type, description, default value and metadata.

    ``In(dagster_type=..., description=None, default_value=<none>, root_manager_key=None,
    metadata=None, asset_key=None, asset_partitions=None)``; arguments may be given
    positionally in that order.
    """

    __slots__ = (
        "asset_key",
        "asset_partitions",
        "dagster_type",
        "default_value",
        "description",
        "metadata",
        "root_manager_key",
    )

    def __init__(
        self,
        dagster_type: object = NOT_SET,
        description: str | None = None,
        default_value: object = NO_DEFAULT,
        root_manager_key: str | None = None,
        metadata: Mapping[str, object] | None = None,
        asset_key: AssetKey | None = None,
        asset_partitions: object = None,
    ) -> None:
        self.dagster_type: DagsterType | None = (
            None if dagster_type is NOT_SET else resolve_dagster_type(dagster_type, where="In")
        )
        _check_str("In", "description", description)
        _check_str("In", "root_manager_key", root_manager_key)
        _check_metadata_keys("In", metadata)
        if asset_key is not None and not isinstance(asset_key, AssetKey):
            raise InvalidArgumentError(
                f"In: asset_key must be an AssetKey, got {type(asset_key).__name__}"
            )
        if asset_partitions is not None and asset_key is None:
            raise InvalidArgumentError("In: asset_partitions can only be given with asset_key")
        self.description = description
        self.default_value = default_value
        self.root_manager_key = root_manager_key
        self.metadata: dict[str, object] = dict(metadata or {})
        self.asset_key = asset_key
        self.asset_partitions = asset_partitions

    @property
    def has_default_value(self) -> bool:
        return self.default_value is not NO_DEFAULT

    def _fields(self) -> tuple[object, ...]:
        return (
            self.dagster_type,
            self.description,
            self.default_value,
            self.root_manager_key,
            self.metadata,
            self.asset_key,
            self.asset_partitions,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, In):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"In(dagster_type={self.dagster_type!r}, description={self.description!r}, "
            f"default_value={self.default_value!r})"
        )


class Out:
    """Declares an output: its type, description, whether it is required, metadata.

    ``Out(dagster_type=..., description=None, is_required=True, io_manager_key=None,
    metadata=None, asset_key=None, asset_partitions=None, asset_partitions_def=None)``.
    """

    __slots__ = (
        "asset_key",
        "asset_partitions",
        "asset_partitions_def",
        "dagster_type",
        "description",
        "io_manager_key",
        "is_required",
        "metadata",
    )

    def __init__(
        self,
        dagster_type: object = NOT_SET,
        description: str | None = None,
        is_required: bool = True,
        io_manager_key: str | None = None,
        metadata: Mapping[str, object] | None = None,
        asset_key: AssetKey | None = None,
        asset_partitions: object = None,
        asset_partitions_def: object = None,
    ) -> None:
        self.dagster_type: DagsterType | None = (
            None if dagster_type is NOT_SET else resolve_dagster_type(dagster_type, where="Out")
        )
        if not isinstance(is_required, bool):
            raise InvalidArgumentError(
                f"Out: is_required must be a bool, got {type(is_required).__name__}"
            )
        _check_str("Out", "io_manager_key", io_manager_key)
        _check_metadata_keys("Out", metadata)
        if asset_key is not None and not isinstance(asset_key, AssetKey):
            raise InvalidArgumentError(
                f"Out: asset_key must be an AssetKey, got {type(asset_key).__name__}"
            )
        self.description = description
        self.is_required = is_required
        self.io_manager_key = io_manager_key if io_manager_key is not None else "io_manager"
        self.metadata = None if metadata is None else dict(metadata)
        self.asset_key = asset_key
        self.asset_partitions = asset_partitions
        self.asset_partitions_def = asset_partitions_def

    def _fields(self) -> tuple[object, ...]:
        return (
            self.dagster_type,
            self.description,
            self.is_required,
            self.io_manager_key,
            self.metadata,
            self.asset_key,
            self.asset_partitions,
            self.asset_partitions_def,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Out):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Out(dagster_type={self.dagster_type!r}, description={self.description!r}, "
            f"is_required={self.is_required!r})"
        )


@dataclass(frozen=True)
class InputDefinition:
    """A resolved input of an op."""

    name: str
    dagster_type: DagsterType = Any_
    description: str | None = None
    default_value: object = NO_DEFAULT
    metadata_entries: tuple[MetadataEntry, ...] = ()
    asset_key: AssetKey | None = None
    root_manager_key: str | None = None

    @property
    def has_default_value(self) -> bool:
        return self.default_value is not NO_DEFAULT

    @property
    def is_required(self) -> bool:
        """Whether a caller must supply a value (no default, and not a Nothing input)."""
        return not self.has_default_value and not self.dagster_type.is_nothing

    def to_in(self) -> In:
        return In(
            self.dagster_type,
            self.description,
            self.default_value,
            self.root_manager_key,
            {e.label: e.value for e in self.metadata_entries},
            self.asset_key,
        )


@dataclass(frozen=True)
class OutputDefinition:
    """A resolved output of an op."""

    name: str
    dagster_type: DagsterType = Any_
    description: str | None = None
    is_required: bool = True
    metadata_entries: tuple[MetadataEntry, ...] = ()
    asset_key: AssetKey | None = None
    io_manager_key: str = "io_manager"

    def to_out(self) -> Out:
        return Out(
            self.dagster_type,
            self.description,
            self.is_required,
            self.io_manager_key,
            {e.label: e.value for e in self.metadata_entries},
            self.asset_key,
        )


def lenient_metadata(metadata: Mapping[str, object] | None) -> tuple[MetadataEntry, ...]:
    """Normalise In/Out metadata, replacing values that have no metadata kind."""
    return tuple(normalize_metadata(metadata, None, lenient=True))
