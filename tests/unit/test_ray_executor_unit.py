"""The Ray executor's parts that need no running Ray.

Resource tags are read into Ray task options, and a bad one is refused with the op,
the tag and what was expected; Ray's exceptions map to the failure an attempt ends
with; ophost never imports Ray unless a Ray executor is made; and without Ray, asking
for one says how to install it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ophost import op
from ophost.definitions import ErrorSource
from ophost.definitions._op import OpDefinition
from ophost.errors import OpHostError
from ophost.execution._ray_executor import ray_failure, ray_options

REPO = Path(__file__).resolve().parents[2]


def _tagged(**tags: str) -> OpDefinition:
    @op(tags={f"ophost/ray/{name}": value for name, value in tags.items()})
    def tagged() -> int:
        return 1

    return tagged


@pytest.mark.parametrize(
    ("tags", "options"),
    [
        ({}, {}),
        ({"num_cpus": "2"}, {"num_cpus": 2}),
        ({"num_cpus": "0.5"}, {"num_cpus": 0.5}),
        ({"num_cpus": "0"}, {"num_cpus": 0}),
        ({"num_gpus": "1"}, {"num_gpus": 1}),
        ({"num_gpus": "0.25"}, {"num_gpus": 0.25}),
        ({"memory": "1073741824"}, {"memory": 1 << 30}),
        ({"memory": "512M"}, {"memory": 512 << 20}),
        ({"memory": "2GiB"}, {"memory": 2 << 30}),
        ({"memory": "1.5k"}, {"memory": 1536}),
        ({"resources": '{"TPU": 4, "special": 0.5}'}, {"resources": {"TPU": 4, "special": 0.5}}),
        (
            {"num_cpus": "4", "num_gpus": "1", "memory": "8G"},
            {"num_cpus": 4, "num_gpus": 1, "memory": 8 << 30},
        ),
    ],
)
def test_resource_tags_become_task_options(
    tags: dict[str, str], options: dict[str, object]
) -> None:
    assert ray_options(_tagged(**tags)) == options


@pytest.mark.parametrize(
    ("tag", "value", "expected"),
    [
        ("num_cpus", "many", "a number of 0 or more"),
        ("num_cpus", "-1", "a number of 0 or more"),
        ("num_cpus", "inf", "a number of 0 or more"),
        ("num_gpus", "nan", "a number of 0 or more"),
        ("memory", "lots", "a number of bytes, such as 512M or 2G"),
        ("memory", "-5M", "a number of bytes, such as 512M or 2G"),
        ("resources", "TPU=1", "a JSON object of resource amounts"),
        ("resources", '["TPU"]', "a JSON object of resource amounts"),
        ("resources", '{"TPU": "one"}', "a JSON object of resource amounts"),
        ("resources", '{"TPU": -1}', "a JSON object of resource amounts"),
        ("resources", '{"TPU": true}', "a JSON object of resource amounts"),
    ],
)
def test_a_bad_resource_tag_names_the_op_the_tag_and_what_was_expected(
    tag: str, value: str, expected: str
) -> None:
    with pytest.raises(OpHostError) as raised:
        ray_options(_tagged(**{tag: value}))
    message = str(raised.value)
    assert message.startswith(f'op "tagged": its tag ophost/ray/{tag} is "{value}"')
    assert expected in message


def test_rays_exceptions_map_to_the_failure_they_stand_for() -> None:
    exceptions = pytest.importorskip("ray.exceptions", reason="Ray is not installed")
    cases = [
        (exceptions.WorkerCrashedError(), ErrorSource.WORKER_CRASHED, "ophost.WorkerCrashed"),
        (
            exceptions.OutOfMemoryError("the node is low on memory"),
            ErrorSource.MEMORY_LIMIT,
            "ophost.MemoryLimitExceeded",
        ),
        (exceptions.NodeDiedError("node 7 died"), ErrorSource.WORKER_LOST, "ophost.WorkerLost"),
        (exceptions.LocalRayletDiedError(), ErrorSource.WORKER_LOST, "ophost.WorkerLost"),
        (
            exceptions.ObjectLostError("ab" * 28, None, "here"),
            ErrorSource.WORKER_LOST,
            "ophost.WorkerLost",
        ),
        (exceptions.TaskCancelledError(), ErrorSource.INTERRUPT, "ophost.WorkerStopped"),
        (
            exceptions.RuntimeEnvSetupError("pip failed"),
            ErrorSource.FRAMEWORK,
            "ophost.RayTaskError",
        ),
        (
            ConnectionError("the client lost its server"),
            ErrorSource.WORKER_LOST,
            "ophost.WorkerLost",
        ),
    ]
    for error, source, type_name in cases:
        got_source, got_type, message = ray_failure(exceptions, error)
        assert (got_source, got_type) == (source, type_name), error
        assert type(error).__name__ in message  # what Ray said is quoted
    assert (
        "node running the attempt was lost"
        in ray_failure(exceptions, exceptions.NodeDiedError("node 7 died"))[2]
    )
    assert "node 7 died" in ray_failure(exceptions, exceptions.NodeDiedError("node 7 died"))[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_ophost_does_not_import_ray() -> None:
    result = _python(
        """
        import sys
        import ophost, ophost.execution, ophost.server, ophost.cli, ophost.worker
        import ophost.server._executors, ophost.execution._ray_executor
        import ophost.execution._ray_task
        from ophost.execution import RayExecutor, RayUnavailableError
        assert "ray" not in sys.modules, [m for m in sys.modules if m.startswith("ray")]
        print("ok")
        """
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path: Path) -> None:
    ops = tmp_path / "plain_ops.py"
    ops.write_text("from ophost import op\n\n@op\ndef one() -> int:\n    return 1\n")
    result = _python(
        f"""
        import sys
        sys.modules["ray"] = None  # as if Ray were not installed
        from ophost.cli import main
        sys.exit(main(["serve", "-f", {str(ops)!r}, "--executor", "ray", "--port", "0",
                       "--store", "memory"]))
        """
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "the Ray executor needs Ray" in result.stderr
    assert "pip install 'ophost[ray]'" in result.stderr


def test_an_op_tagged_for_ray_needs_ray_too(tmp_path: Path) -> None:
    ops = tmp_path / "tagged_ops.py"
    ops.write_text(
        'from ophost import op\n\n@op(tags={"ophost/executor": "ray"})\ndef one() -> int:\n'
        "    return 1\n"
    )
    result = _python(
        f"""
        import sys
        sys.modules["ray"] = None
        from ophost.execution import RayUnavailableError
        from ophost.execution._loader import load_ops
        from ophost.server._executors import build_executor
        try:
            build_executor(load_ops(file={str(ops)!r}, resources=False), "thread")
        except RayUnavailableError as error:
            print(error)
        """
    )
    assert "pip install 'ophost[ray]'" in result.stdout, result.stderr


def test_an_address_where_nothing_answers_fails_at_once(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed")
    ops = tmp_path / "plain_ops.py"
    ops.write_text("from ophost import op\n\n@op\ndef one() -> int:\n    return 1\n")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "ophost", "serve", "-f", str(ops), "--executor", "ray"),
            *("--ray-address", f"ray://127.0.0.1:{port}", "--port", "0", "--store", "memory"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"cannot connect to Ray at ray://127.0.0.1:{port}: nothing answers" in result.stderr
    assert time.monotonic() - started < 60
