"""The Python client's conformance program (the contract is in README.md here).

Reads the cases as one JSON document on stdin, runs each with ``ophost_client``'s
public API and writes one JSON line of normalised results per case to stdout.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from ophost import AssetMaterialization, AssetObservation, ExpectationResult, MetadataEntry
from ophost.codec import definitions as definitions_codec
from ophost.codec import metadata as metadata_codec
from ophost.codec import values as values_codec
from ophost.errors import CodecError
from ophost.execution import (
    ErrorData,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStarted,
    InputChecked,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
)
from ophost_client import (
    AsyncOpHostClient,
    ClientClosedError,
    ExecutionCanceledError,
    ExecutionStream,
    OpFailedError,
    OpHostClientError,
    OpHostRpcError,
    bearer,
)

Json = Any
BIG_BYTES = 4096


# -- typed values --------------------------------------------------------------------------


def decode_tv(tv: Mapping[str, Json]) -> object:
    """A case's typed value as the Python value the client takes."""
    ((tag, body),) = tv.items()
    if tag == "null":
        return None
    if tag in ("bool", "string"):
        return body
    if tag == "int":
        return int(body)
    if tag == "float":
        return float(body)
    if tag == "bytes":
        return base64.b64decode(body)
    if tag == "bytes_pattern":
        return pattern(int(body))
    if tag == "list":
        return [decode_tv(item) for item in body]
    if tag == "tuple":
        return tuple(decode_tv(item) for item in body)
    if tag == "set":
        return {decode_tv(item) for item in body}
    if tag == "map":
        return {decode_tv(key): decode_tv(value) for key, value in body}
    raise ValueError(f"unknown typed value tag {tag!r}")


def pattern(size: int) -> bytes:
    block = bytes(range(251))
    return (block * (size // 251 + 1))[:size]


def encode_tv(value: object) -> Json:
    """A value the client returned, as a typed value."""
    if value is None:
        return {"null": None}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"float": "NaN"}
        if math.isinf(value):
            return {"float": "Infinity" if value > 0 else "-Infinity"}
        return {"float": repr(value)}
    if isinstance(value, str):
        return {"string": value}
    if isinstance(value, bytes):
        if len(value) > BIG_BYTES:
            return {"bytes_sha256": hashlib.sha256(value).hexdigest(), "size": len(value)}
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return {"list": [encode_tv(item) for item in value]}
    if isinstance(value, tuple):
        return {"tuple": [encode_tv(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        return {"set": [encode_tv(item) for item in value]}
    if isinstance(value, dict):
        return {"map": [[encode_tv(k), encode_tv(v)] for k, v in value.items()]}
    raise TypeError(f"no typed value for {type(value).__name__}")


def decode_inputs(inputs: Mapping[str, Json] | None) -> dict[str, object]:
    return {name: decode_tv(tv) for name, tv in (inputs or {}).items()}


# -- events --------------------------------------------------------------------------------


def chain(error: ErrorData | None) -> Json:
    if error is None:
        return None
    links = []
    current: ErrorData | None = error
    while current is not None:
        links.append({"type": current.type_name, "message": current.message})
        current = current.cause if current.cause is not None else current.context
    return links


def metadata(entries: tuple[MetadataEntry, ...] | list[MetadataEntry]) -> Json:
    return [
        [entry.label, metadata_codec.to_proto(entry.entry_data).WhichOneof("kind")]
        for entry in entries
    ]


def normalise_event(event: ExecutionEvent) -> Json:
    base = {"seq": event.sequence, "attempt": event.attempt}
    body = event.body
    if isinstance(body, ExecutionStarted):
        return base | {"kind": "execution_started"}
    if isinstance(body, StepStarted):
        return base | {"kind": "step_started"}
    if isinstance(body, StepRestarted):
        return base | {"kind": "step_restarted"}
    if isinstance(body, StepSucceeded):
        return base | {"kind": "step_success"}
    if isinstance(body, InputChecked):
        return base | {
            "kind": "input_checked",
            "input": body.input_name,
            "success": body.type_check.success,
        }
    if isinstance(body, OutputProduced):
        return base | {
            "kind": "output",
            "name": body.output_name,
            "value": encode_tv(body.value),
            "type_check": body.type_check.success,
        }
    if isinstance(body, AssetMaterialization):
        return base | {
            "kind": "asset_materialization",
            "asset_key": list(body.asset_key.path),
            "description": body.description,
            "partition": body.partition,
            "metadata": metadata(body.metadata_entries),
        }
    if isinstance(body, AssetObservation):
        return base | {
            "kind": "asset_observation",
            "asset_key": list(body.asset_key.path),
            "description": body.description,
            "partition": body.partition,
            "metadata": metadata(body.metadata_entries),
        }
    if isinstance(body, ExpectationResult):
        return base | {
            "kind": "expectation_result",
            "success": body.success,
            "label": body.label,
            "description": body.description,
            "metadata": metadata(body.metadata_entries),
        }
    if isinstance(body, LogMessage):
        return base | {"kind": "log", "level": body.level.name, "message": body.message}
    if isinstance(body, RetryScheduled):
        return base | {
            "kind": "retry_scheduled",
            "failed_attempt": body.failed_attempt,
            "next_attempt": body.next_attempt,
            "delay_seconds": body.delay_seconds,
            "error": chain(body.error),
        }
    if isinstance(body, StepFailed):
        user = body.user_failure
        return base | {
            "kind": "step_failure",
            "error": chain(body.error),
            "source": body.error_source.name,
            "will_retry": body.will_retry,
            "user_failure": None
            if user is None
            else {"description": user.description, "metadata": metadata(user.metadata_entries)},
        }
    if isinstance(body, ExecutionFinished):
        return base | {
            "kind": "execution_finished",
            "status": body.status.name,
            "error": chain(body.error),
            "cancel_requested": body.cancel_requested,
            "cancel_outcome": body.cancel_outcome.name if body.cancel_outcome else None,
        }
    raise TypeError(f"unknown event body {type(body).__name__}")


# -- actions -------------------------------------------------------------------------------


class Program:
    def __init__(self, targets: Mapping[str, str], security: Mapping[str, Json] | None) -> None:
        self.targets = targets
        self.security = security
        self.clients: dict[str, AsyncOpHostClient] = {}
        # The case's own token, sent with each of its calls (README.md, "The secure run").
        self.metadata: list[tuple[str, str]] | None = None

    def client(self, target: str) -> AsyncOpHostClient:
        if target not in self.clients:
            self.clients[target] = self.new_client(target)
        return self.clients[target]

    def new_client(self, target: str, *, with_token: bool = True) -> AsyncOpHostClient:
        """A client of ``target``; in the secure run with the TLS files and the token."""
        if self.security is None:
            return AsyncOpHostClient(self.targets[target])
        return AsyncOpHostClient(
            self.targets[target],
            tls_ca=self.security["ca"],
            tls_cert=self.security["cert"],
            tls_key=self.security["key"],
            token=self.security["token"] if with_token else None,
        )

    def call_metadata(self, name: str | None) -> list[tuple[str, str]] | None:
        """The per-call metadata carrying the token of identity ``name``."""
        if name is None:
            return None
        if self.security is None:
            raise ValueError(f"the case names the token {name!r}, but this run has none")
        return [bearer(self.security["tokens"][name])]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    async def run(self, case: Mapping[str, Json]) -> Json:
        target = case.get("target", "main")
        action = case["action"]
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            return {"crash": f"unknown action {action!r}"}
        self.metadata = self.call_metadata(case.get("token"))
        anonymous = bool(case.get("without_token"))
        client = self.new_client(target, with_token=False) if anonymous else self.client(target)
        try:
            return await handler(client, case)
        except OpHostRpcError as exc:
            return rpc_error(exc)
        except CodecError as exc:
            return {"client_error": {"kind": "invalid_value", "message": str(exc)}}
        except ClientClosedError as exc:
            return {"client_error": {"kind": "closed", "message": str(exc)}}
        except OpHostClientError as exc:
            return {"client_error": {"kind": "other", "message": str(exc)}}
        finally:
            if anonymous:
                await client.close()

    async def do_list_ops(self, client: AsyncOpHostClient, case: Json) -> Json:
        return {"ops": sorted(spec.name for spec in await client.list_ops(metadata=self.metadata))}

    async def do_get_op(self, client: AsyncOpHostClient, case: Json) -> Json:
        wire = definitions_codec.to_proto(await client.get_op(case["op"], metadata=self.metadata))
        return {"op": signature(wire)}

    async def do_call(self, client: AsyncOpHostClient, case: Json) -> Json:
        try:
            outputs = await client.call(
                case["op"],
                decode_inputs(case.get("inputs")),
                metadata=self.metadata,
                **extra(case),
            )
        except OpFailedError as exc:
            return {"op_failed": chain(exc.error)}
        except ExecutionCanceledError:
            return {"canceled": True}
        return {"outputs": {name: encode_tv(value) for name, value in outputs.items()}}

    async def do_execute(self, client: AsyncOpHostClient, case: Json) -> Json:
        stream = client.execute(
            case["op"], decode_inputs(case.get("inputs")), metadata=self.metadata, **extra(case)
        )
        return await collect(client, stream, case.get("cancel"), self.metadata)

    async def do_attach(self, client: AsyncOpHostClient, case: Json) -> Json:
        if "op" in case:
            first = client.execute(
                case["op"], decode_inputs(case.get("inputs")), metadata=self.metadata
            )
            async with first:
                async for _ in first:
                    pass
                execution_id = first.execution_id
                assert execution_id is not None
        else:
            execution_id = case["execution_id"]
        # The attach goes as another identity when the case says so.
        attach_metadata = self.call_metadata(case.get("attach_token")) or self.metadata
        stream = client.attach(
            execution_id, after_sequence=case.get("after_sequence", 0), metadata=attach_metadata
        )
        return await collect(client, stream, None, attach_metadata)

    async def do_cancel(self, client: AsyncOpHostClient, case: Json) -> Json:
        await client.cancel(case["execution_id"], metadata=self.metadata)
        return {"canceled": True}

    async def do_request_id(self, client: AsyncOpHostClient, case: Json) -> Json:
        op, request_id = case["op"], case["request_id"]
        first = client.execute(
            op, decode_inputs(case["first"]), request_id=request_id, metadata=self.metadata
        )
        result = await collect(client, first, None, self.metadata)
        outcome: dict[str, Json] = {"first": result["status"]}
        try:
            second = client.execute(
                op, decode_inputs(case["second"]), request_id=request_id, metadata=self.metadata
            )
            await collect(client, second, None, self.metadata)
        except OpHostRpcError as exc:
            outcome["second"] = rpc_error(exc)
            return outcome
        outcome["second_same_execution"] = second.execution_id == first.execution_id
        return outcome

    async def do_client_error(self, client: AsyncOpHostClient, case: Json) -> Json:
        if case["kind"] == "unconvertible_input":
            items: list[object] = [1, 2, 3]
            items[case["index"]] = object()
            await client.call(case["op"], {case["input"]: items}, metadata=self.metadata)
            return {"crash": "the client accepted an unconvertible value"}
        if case["kind"] == "closed":
            fresh = self.new_client(case.get("target", "main"))
            await fresh.close()
            await fresh.call(case["op"], {}, metadata=self.metadata)
            return {"crash": "a closed client made a call"}
        return {"crash": f"unknown client_error kind {case['kind']!r}"}


def rpc_error(exc: OpHostRpcError) -> Json:
    return {
        "error": {
            "code": exc.code.name,
            "reason": exc.reason or None,
            "fields": sorted(exc.fields),
            "metadata": dict(exc.metadata),
        }
    }


def extra(case: Mapping[str, Json]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "config" in case:
        options["config"] = decode_tv(case["config"])
    if "tags" in case:
        options["tags"] = case["tags"]
    return options


async def collect(
    client: AsyncOpHostClient,
    stream: ExecutionStream,
    cancel: Mapping[str, str] | None,
    metadata: list[tuple[str, str]] | None = None,
) -> Json:
    events: list[Json] = []
    status = None
    async with stream:
        async for event in stream:
            events.append(normalise_event(event))
            body = event.body
            if (
                cancel is not None
                and isinstance(body, LogMessage)
                and body.message == cancel["after_log"]
            ):
                if cancel["via"] == "rpc":
                    await client.cancel(event.execution_id, metadata=metadata)
                else:
                    await stream.cancel()
            if isinstance(body, ExecutionFinished):
                status = body.status.name
        outputs = {name: encode_tv(value) for name, value in stream.outputs.items()}
    return {"events": events, "outputs": outputs, "status": status}


def signature(wire: Any) -> Json:
    def text(message: Any, field: str) -> str | None:
        return getattr(message, field) if message.HasField(field) else None

    retry = None
    if wire.HasField("retry_policy"):
        policy = wire.retry_policy
        retry = {
            "max_retries": policy.max_retries,
            "delay_seconds": policy.delay_seconds if policy.HasField("delay_seconds") else None,
            "backoff": enum_label(policy, "backoff"),
            "jitter": enum_label(policy, "jitter"),
        }
    config = None
    if wire.HasField("config") and wire.config.type.WhichOneof("kind") == "shape_type":
        config = [[f.name, f.required] for f in wire.config.type.shape_type.fields]
    return {
        "name": wire.name,
        "description": text(wire, "description"),
        "inputs": [
            {
                "name": spec.name,
                "type": spec.type.display_name,
                "required": spec.required,
                "default": encode_tv(values_codec.from_proto(spec.default_value))
                if spec.HasField("default_value")
                else None,
                "description": text(spec, "description"),
            }
            for spec in wire.inputs
        ],
        "outputs": [
            {
                "name": spec.name,
                "type": spec.type.display_name,
                "required": spec.required,
                "description": text(spec, "description"),
            }
            for spec in wire.outputs
        ],
        "tags": dict(wire.tags),
        "retry": retry,
        "config": config,
    }


def enum_label(message: Any, field: str) -> str | None:
    """An enum field's value name without its prefix (BACKOFF_LINEAR -> LINEAR); None if unset."""
    if getattr(message, field) == 0:
        return None
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    name = str(descriptor.values_by_number[getattr(message, field)].name)
    return name.removeprefix(f"{field.upper()}_")


async def main() -> int:
    document = json.load(sys.stdin)
    program = Program(document["targets"], document.get("security"))
    try:
        for case in document["cases"]:
            timeout = case.get("timeout_seconds", 60)
            try:
                result = await asyncio.wait_for(program.run(case), timeout)
            except TimeoutError:
                result = {"timeout": True}
            except Exception as exc:  # noqa: BLE001 - a program bug fails the case, not the run
                traceback.print_exc()
                result = {"crash": f"{type(exc).__name__}: {exc}"}
            print(json.dumps({"id": case["id"], "result": result}), flush=True)
    finally:
        await program.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
