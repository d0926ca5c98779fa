"""Finding the Dagster ops of a loaded module and making ophost ops of them.

The loader (``ophost.execution._loader``) calls :func:`adapt_namespace` through the
``ophost.op_adapters`` entry point when the module it loaded imported ``dagster``.
Hosted are the module-level Dagster ``OpDefinition`` objects and every op of the jobs
and graphs of the module's ``Definitions`` objects (and of module-level jobs and
graphs), each with the resources its job binds and the ``Definitions`` provide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster

from ophost.dagster._describe import config_schema, dagster_type, retry_policy
from ophost.dagster._step import DagsterStep
from ophost.definitions import In, OpDefinition, Out
from ophost.errors import DefinitionError

__all__ = ["adapt_namespace", "ophost_op"]


def adapt_namespace(namespace: Mapping[str, object]) -> list[tuple[str, object, OpDefinition]]:
    """Each Dagster op found in ``namespace``: where it was found, the Dagster object, and
    the ophost op standing for it (an op reachable several ways is adapted once)."""
    shared = _definitions_resources(namespace)
    found: dict[int, tuple[str, object, OpDefinition]] = {}

    def add(where: str, op_def: dagster.OpDefinition, resources: Mapping[str, object]) -> None:
        if id(op_def) not in found:
            found[id(op_def)] = (where, op_def, ophost_op(op_def, resources))

    for attr, value in namespace.items():
        if isinstance(value, dagster.OpDefinition):
            add(f"module attribute {attr!r}", value, shared)
        elif isinstance(value, (dagster.JobDefinition, dagster.GraphDefinition)):
            for op_def in _ops_of(value):
                add(f"op of {attr!r}", op_def, {**shared, **_job_resources(value)})
        elif isinstance(value, dagster.Definitions):
            for job in value.jobs or ():
                if isinstance(job, (dagster.JobDefinition, dagster.GraphDefinition)):
                    for op_def in _ops_of(job):
                        add(
                            f"op of job {job.name!r} of {attr!r}",
                            op_def,
                            {**shared, **_job_resources(job)},
                        )
    return list(found.values())


def _ops_of(
    node: dagster.JobDefinition | dagster.GraphDefinition,
) -> Iterator[dagster.OpDefinition]:
    graph = node.graph if isinstance(node, dagster.JobDefinition) else node
    for node_def in graph.iterate_node_defs():
        if isinstance(node_def, dagster.OpDefinition):
            yield node_def


def _definitions_resources(namespace: Mapping[str, object]) -> dict[str, object]:
    resources: dict[str, object] = {}
    for value in namespace.values():
        if isinstance(value, dagster.Definitions) and value.resources:
            resources.update(value.resources)
    return resources


def _job_resources(node: object) -> dict[str, object]:
    if not isinstance(node, dagster.JobDefinition):
        return {}
    # Only what the job binds itself; the default IO manager is ophost's to replace.
    return {k: v for k, v in node.resource_defs.items() if k != "io_manager"}


def ophost_op(op_def: dagster.OpDefinition, resources: Mapping[str, object]) -> OpDefinition:
    """The ophost op describing ``op_def`` and running it with Dagster's machinery."""
    where = f'Dagster op "{op_def.name}"'
    if any(d.is_dynamic for d in op_def.output_defs):
        raise DefinitionError(f"{where}: dynamic outputs cannot be hosted by ophost")
    missing = sorted(op_def.required_resource_keys - set(resources))
    if missing:
        raise DefinitionError(
            f"{where} requires resource(s) {', '.join(missing)}, which no Definitions "
            "in its module provides"
        )
    ins = {
        d.name: (
            In(dagster_type(d.dagster_type), d.description, d.default_value)
            if d.has_default_value
            else In(dagster_type(d.dagster_type), d.description)
        )
        for d in op_def.input_defs
    }
    outs = {
        d.name: Out(dagster_type(d.dagster_type), d.description, is_required=d.is_required)
        for d in op_def.output_defs
    }
    tags = {str(k): str(v) for k, v in (op_def.tags or {}).items()}
    return OpDefinition(
        DagsterStep(op_def, resources),
        op_def.name,
        ins=ins,
        outs=outs,
        description=op_def.description,
        config_schema=config_schema(op_def),
        tags=tags,
        retry_policy=retry_policy(op_def.retry_policy),
        code_version=op_def.version,
    )
