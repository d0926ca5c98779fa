"""The web console in a real headless browser: Debian's Chromium driven by Playwright.

A real ``ophost serve`` process hosts :mod:`tests.e2e.console_ops` with its browser door
(``--http-port 0``); the browser loads the console from that port and works it as a
person would: through labels, buttons and links. Every test also checks that the
browser's console logged no error and the page raised nothing, and writes screenshots
to ``tests/artifacts/console/`` (gitignored; ``docs/images/console.png`` is one of them).

Chromium comes from Debian (``apt-get install chromium``, which ``.ci/run`` does);
Playwright is pointed at its binary and never downloads a browser. Without it, the
tests skip locally and fail under ``make e2e`` and CI (OPHOST_REQUIRE_TOOLS).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from ophost import codec
from ophost.v1 import execution_pb2, op_host_service_pb2_grpc
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import OpHostClient
from tests.e2e.security import token_file_text
from tests.tools import missing_tool

pytestmark = pytest.mark.crosslang

ROOT = Path(__file__).resolve().parents[2]
OPS = Path(__file__).resolve().parent / "console_ops.py"
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
# Where a test waits at most for something to appear in the page (ms).
WAIT_MS = 30_000
# The HTTP door's and the gRPC port's addresses in what `ophost serve` prints.
HTTP_ADDRESS = re.compile(r"https?://(127\.0\.0\.1:\d+)")
GRPC_ADDRESS = re.compile(r"^ophost: serving .* on (127\.0\.0\.1:\d+)$")
TOKEN = "console-test-token-0123456789abcdef"


def chromium_path() -> str:
    """Debian's Chromium, or the binary $OPHOST_CHROMIUM names (``OPHOST_CHROMIUM=/nonexistent``
    shows what happens without one)."""
    named = os.environ.get("OPHOST_CHROMIUM")
    candidates = [named] if named else ["/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return missing_tool(
        f"Chromium is not installed (looked for {', '.join(c for c in candidates if c)}; "
        "apt-get install chromium, which .ci/run does)"
    )


class Host:
    """A running ``ophost serve`` with its browser door."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ophost",
                "serve",
                "-f",
                str(OPS),
                "--port",
                "0",
                "--http-port",
                "0",
                *args,
            ],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        found = threading.Event()
        self.url = ""
        # The gRPC port of the same host, for clients other than the browser.
        self.address = ""

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                grpc_match = GRPC_ADDRESS.search(line.rstrip("\n"))
                if grpc_match and not self.address:
                    self.address = grpc_match.group(1)
                match = HTTP_ADDRESS.search(line)
                if match and not self.url:
                    self.url = f"http://{match.group(1)}"
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not found.wait(60) or not self.url or not self.address:
            self.stop()
            raise AssertionError("ophost serve printed no HTTP address:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self._reader.join(30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    running = Host(cwd=tmp_path_factory.mktemp("console"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def secured_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    folder = tmp_path_factory.mktemp("console-secured")
    tokens = folder / "tokens.toml"
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    identity = {
        "token_hash": f"sha256:{digest}",
        "ops": ["*"],
        "actions": ["list", "run", "read", "cancel"],
    }
    tokens.write_text(token_file_text({"console": identity}), encoding="utf-8")
    running = Host("--token-file", str(tokens), "--withhold-errors", cwd=folder)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    chromium_path()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path(),
        # Root (CI) needs --no-sandbox; a container's small /dev/shm can crash a renderer.
        args=["--no-sandbox", "--disable-dev-shm-usage"],
    )
    yield launched
    launched.close()


@dataclass
class Watched:
    """A page and everything it reported: console errors, uncaught exceptions, and
    requests that went anywhere but the host."""

    page: Page
    origin: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        assert self.errors == [], f"the browser reported errors: {self.errors}"
        assert self.outside == [], f"the page loaded from outside the host: {self.outside}"


@pytest.fixture
def page(browser: Browser, host: Host) -> Iterator[Watched]:
    yield from _page(browser, host)


def _page(browser: Browser, host: Host) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    watched = Watched(opened, host.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            watched.errors.append(f"{message.type}: {message.text}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))

    def on_request(request: object) -> None:
        url = getattr(request, "url", "")
        if not url.startswith((host.url, "data:")):
            watched.outside.append(url)

    opened.on("request", on_request)
    yield watched
    context.close()


def open_op(w: Watched, name: str) -> Page:
    page = w.page
    page.goto(f"{w.origin}/#/ops/{name}")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Run")).to_be_visible()
    return page


def run_op(w: Watched, name: str, fields: dict[str, str]) -> Page:
    """Fills the op's run form by its labels, presses Run, and waits for its execution page."""
    page = open_op(w, name)
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"#/executions/[^/?]+$"))
    return page


def expect_state(page: Page, word: str) -> None:
    expect(page.locator("p", has_text="State:").locator(".state")).to_have_text(
        word, timeout=WAIT_MS
    )


def test_lists_the_ops_and_searches_them(page: Watched) -> None:
    p = page.page
    p.goto(f"{page.origin}/")
    expect(p.get_by_role("heading", name="Ops", level=1)).to_be_visible()
    for name in ("add", "greet", "slow", "ticks", "report"):
        expect(p.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(p.get_by_text("Add two integers.")).to_be_visible()
    page.shot("catalogue")

    p.get_by_label("Search ops (name, description, tags, inputs)").fill("maths")
    expect(p.get_by_role("link", name="add", exact=True)).to_be_visible()
    expect(p.get_by_role("link", name="greet", exact=True)).to_have_count(0)
    expect(p.get_by_text("1 of 6 ops")).to_be_visible()

    # One op in full: types, config schema with its defaults, retry policy, tags.
    p.get_by_role("link", name="add", exact=True).click()
    expect(p.get_by_role("heading", name="add", level=1)).to_be_visible()
    expect(p.get_by_text("team=maths").first).to_be_visible()
    open_op(page, "greet")
    definition = p.locator("section", has=p.get_by_role("heading", name="Definition"))
    expect(definition.get_by_role("cell", name="config.greeting", exact=True)).to_be_visible()
    expect(definition.get_by_role("cell", name='default "hello"').first).to_be_visible()
    open_op(page, "report")
    expect(
        p.get_by_text("Up to 1 retries after the first attempt, with a delay of 0.2 s.")
    ).to_be_visible()
    page.shot("op")
    page.assert_clean()


def test_runs_add_from_the_form_and_shows_its_output(page: Watched) -> None:
    p = open_op(page, "add")
    # Each input has a visible label naming it.
    expect(p.locator("label", has_text=re.compile("^a$"))).to_be_visible()
    p.get_by_label("a", exact=True).fill("2")
    p.get_by_label("b", exact=True).fill("40")
    page.shot("run-form")
    p.get_by_role("button", name="Run").click()
    expect(p).to_have_url(re.compile(r"#/executions/[^/?]+$"))
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs")).to_contain_text("result")
    expect(p.locator("dl.outputs .output-value")).to_have_text("42")
    expect(p.locator("li[data-kind=output]")).to_contain_text("result = 42")
    page.shot("execution-add")
    page.assert_clean()


def test_runs_add_with_the_keyboard_alone(page: Watched) -> None:
    p = page.page
    p.goto(f"{page.origin}/#/ops")
    search = p.get_by_label("Search ops (name, description, tags, inputs)")
    expect(search).to_be_visible()
    search.focus()
    p.keyboard.type("Add two")
    p.keyboard.press("Tab")
    expect(p.get_by_role("link", name="add", exact=True)).to_be_focused()
    p.keyboard.press("Enter")
    expect(p.get_by_role("heading", name="add", level=1)).to_be_visible()
    p.get_by_label("a", exact=True).focus()
    p.keyboard.type("1")
    p.keyboard.press("Tab")
    expect(p.get_by_label("b", exact=True)).to_be_focused()
    p.keyboard.type("2")
    p.keyboard.press("Enter")
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text("3")
    page.assert_clean()


def test_shows_the_hosts_validation_error_at_the_config_field(page: Watched) -> None:
    p = open_op(page, "greet")
    expect(p.get_by_label("config.greeting", exact=True)).to_be_visible()
    p.get_by_label("name", exact=True).fill("Ada")
    p.get_by_label("config.times", exact=True).fill("twice")
    p.get_by_role("button", name="Run").click()
    times = p.locator('.field[data-path="config.times"]')
    expect(times.locator(".field-error")).to_be_visible()
    expect(times.locator(".field-error")).not_to_be_empty()
    expect(p.get_by_label("config.times", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(p.get_by_label("config.times", exact=True)).to_be_focused()
    # The host's refusal is summed up above the Run button too, naming the path.
    expect(p.locator(".form-summary")).to_contain_text("INVALID_CONFIG")
    expect(p.locator(".form-summary code", has_text="config.times")).to_be_visible()
    # Nothing was started; the other fields are not marked.
    expect(p).to_have_url(re.compile(r"#/ops/greet$"))
    expect(p.locator('.field[data-path="config.greeting"] .field-error')).to_be_hidden()
    page.shot("validation-error")

    # Fixed, it runs, with the config's default greeting.
    p.get_by_label("config.times", exact=True).fill("2")
    p.get_by_role("button", name="Run").click()
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text('"hello, Ada hello, Ada"')
    page.assert_clean()


def test_puts_errors_of_nested_config_at_their_fields(page: Watched) -> None:
    p = open_op(page, "connect")
    # Nested shapes are groups named by their path, with a field per key.
    expect(p.get_by_role("group", name="config.db")).to_be_visible()
    expect(p.get_by_label("config.db.host", exact=True)).to_have_attribute(
        "placeholder", "localhost"
    )
    # Nothing filled in: the host names the group with a field missing; the form shows
    # its message in that group and puts the focus on the group's first field.
    p.get_by_role("button", name="Run").click()
    group_error = p.get_by_role("group", name="config.db").locator("> .field-error")
    expect(group_error).to_be_visible()
    expect(group_error).to_contain_text("port")
    expect(p.get_by_label("config.db.host", exact=True)).to_be_focused()
    p.get_by_label("config.db.port", exact=True).fill("not a port")
    p.get_by_role("button", name="Run").click()
    port = p.locator('.field[data-path="config.db.port"] .field-error')
    expect(port).to_be_visible()
    expect(p.get_by_label("config.db.port", exact=True)).to_be_focused()
    expect(p.locator('.field[data-path="config.db.host"] .field-error')).to_be_hidden()

    p.get_by_label("config.db.port", exact=True).fill("5432")
    p.get_by_role("button", name="Run").click()
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text('"localhost:5432"')
    page.assert_clean()


def test_cancels_a_long_op(page: Watched) -> None:
    p = run_op(page, "slow", {"seconds": "120"})
    expect_state(p, "running")
    expect(p.locator("section.progress progress")).to_be_visible()
    expect(p.locator("section.progress")).to_contain_text("elapsed")
    page.shot("running")
    p.get_by_role("button", name="Cancel").click()
    expect_state(p, "canceled")
    expect(p.locator("li[data-kind=executionFinished]")).to_contain_text("canceled")
    expect(p.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(p.locator("section.progress")).to_be_hidden()
    page.shot("canceled")
    page.assert_clean()


def test_watches_a_generators_events_arrive_live(page: Watched) -> None:
    p = run_op(page, "ticks", {"n": "5", "pause": "1.0"})
    first = p.locator("li[data-kind=log]", has_text="tick 0")
    expect(first).to_be_visible()
    # The first tick is on the page while the op still runs: the events come live.
    expect_state(p, "running")
    assert p.locator("li[data-kind=executionFinished]").count() == 0
    seen_while_running = p.locator("li[data-kind=log]").count()
    assert seen_while_running < 5
    expect(p.locator("li[data-kind=log]", has_text="tick 4")).to_be_visible()
    expect_state(p, "succeeded")
    expect(p.locator("li[data-kind=expectationResult]")).to_have_count(5)
    expect(p.locator("dl.outputs .output-value")).to_have_text("5")
    # Sequence numbers run 1, 2, 3... in order.
    sequences = [
        int(s)
        for s in p.locator("li.event").evaluate_all("items => items.map(i => i.dataset.sequence)")
    ]
    assert sequences == list(range(1, len(sequences) + 1))
    page.shot("live-events")

    # Run again: the progress display now measures the run against the last ones.
    p.get_by_role("button", name="Re-run").click()
    expect(p.locator("section.progress")).to_contain_text("usually takes about")
    expect(p.locator("section.progress progress")).to_have_attribute("value", re.compile(r"."))
    page.shot("progress")
    expect_state(p, "succeeded")
    page.assert_clean()


def test_renders_retries_failures_and_metadata(page: Watched) -> None:
    p = run_op(page, "report", {})
    expect_state(p, "succeeded")
    retry = p.locator("li[data-kind=retryScheduled]")
    expect(retry).to_contain_text("waiting 200 ms")
    failure = p.locator("li[data-kind=stepFailure]")
    expect(failure).to_contain_text("builtins.ConnectionError: the warehouse did not answer")
    expect(failure.locator("pre.stack")).to_contain_text("raise ConnectionError")
    expect(p.locator("li[data-kind=expectationResult]")).to_contain_text("expectation failed")
    materialization = p.locator("li[data-kind=assetMaterialization]")
    expect(materialization).to_contain_text("reports / scores")
    table = materialization.locator("table.data")
    expect(table.get_by_role("columnheader", name="score")).to_be_visible()
    expect(table.get_by_role("cell", name="91.5")).to_be_visible()
    expect(materialization.locator(".markdown strong")).to_have_text("Bold")
    # Raw HTML in markdown is shown as text, never run.
    expect(materialization.locator(".markdown")).to_contain_text("<script>")
    assert materialization.locator(".markdown script").count() == 0
    assert p.evaluate("() => window.injected === undefined")
    # A markdown image is shown as its text; nothing is fetched from elsewhere.
    expect(materialization.locator(".markdown")).to_contain_text("[image: logo]")
    assert materialization.locator(".markdown img").count() == 0
    expect(
        materialization.get_by_role("link", name="https://example.com/scores")
    ).to_have_attribute("href", "https://example.com/scores")
    # An observation is shown like a materialization, under its own label.
    observation = p.locator("li[data-kind=assetObservation]")
    expect(observation.locator(".kind")).to_have_text("observation")
    expect(observation.locator(".summary")).to_have_text(
        "warehouse / scores (partition 2024-01) — Source table"
    )
    expect(observation).to_contain_text("row_count")
    expect(observation).to_contain_text("tags: source=nightly")
    summary = materialization.locator("details.json")
    expect(summary.locator("pre")).to_be_hidden()
    summary.locator("summary").click()
    expect(summary.locator("pre")).to_contain_text('"rows": 2')
    page.shot("metadata")
    page.assert_clean()


def test_opens_an_execution_from_history_and_replays_it(page: Watched) -> None:
    p = run_op(page, "add", {"a": "20", "b": "22"})
    expect_state(p, "succeeded")
    execution_id = p.url.rsplit("/", 1)[1]

    p.get_by_role("link", name="History").click()
    expect(p.get_by_role("heading", name="Executions", level=1)).to_be_visible()
    p.get_by_label("Op", exact=True).select_option("add")
    p.get_by_label("succeeded", exact=True).check()
    p.get_by_role("button", name="Filter").click()
    expect(p).to_have_url(re.compile(r"op=add"))
    rows = p.locator("table.executions tbody tr")
    expect(rows.first).to_be_visible()
    expect(p.locator("table.executions tbody")).not_to_contain_text("slow")
    page.shot("history")
    p.get_by_role("link", name=execution_id).click()

    # The replay: every recorded event from the first, then the stream ends.
    expect(p.get_by_text(re.compile(r"^All \d+ events shown\.$"))).to_be_visible()
    expect(p.locator("li.event").first).to_have_attribute("data-kind", "executionStarted")
    expect(p.locator("li.event").last).to_have_attribute("data-kind", "executionFinished")
    expect(p.locator("dl.outputs .output-value")).to_have_text("42")
    page.shot("replay")

    # Re-run with the same inputs: a new execution with the same output.
    p.get_by_role("button", name="Re-run").click()
    expect(p).not_to_have_url(re.compile(re.escape(execution_id)))
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text("42")

    # Or edit them first: the form comes filled in.
    p.get_by_role("link", name="Edit inputs and run").click()
    expect(p.get_by_label("a", exact=True)).to_have_value("20")
    expect(p.get_by_label("b", exact=True)).to_have_value("22")
    p.get_by_label("b", exact=True).fill("23")
    p.get_by_role("button", name="Run").click()
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text("43")
    page.assert_clean()


def start_with_stub(host: Host, start: execution_pb2.ExecutionStart) -> str:
    """Starts an execution through the gRPC port with the generated stub; its id."""
    with grpc.insecure_channel(host.address) as channel:
        stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        response = stub.StartExecution(pb.StartExecutionRequest(start=start), timeout=30)
    return response.execution.id


def recorded_start(host: Host, execution_id: str) -> execution_pb2.ExecutionStart:
    """The start request the host keeps for an execution, read through the gRPC port."""
    with grpc.insecure_channel(host.address) as channel:
        stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        request = pb.GetExecutionRequest(execution_id=execution_id, include_start=True)
        response = stub.GetExecution(request, timeout=30)
    assert response.HasField("start"), f"the host kept no start for {execution_id}"
    return response.start


def execute_with_client(
    host: Host, op_name: str, inputs: dict[str, object], **options: Any
) -> tuple[str, dict[str, object]]:
    """Runs an op to its end with the Python client (``execute``: values over the inline
    threshold are uploaded in chunks); its execution id and outputs.

    The client runs in a thread of its own: Playwright's sync API keeps an asyncio loop
    on this one, and the blocking client's ``close`` cannot run beside it.
    """

    def run() -> tuple[str, dict[str, object]]:
        with OpHostClient(host.address) as client:
            stream = client.execute(op_name, inputs, **options)
            outputs = stream.result()
            assert stream.execution_id
            return stream.execution_id, outputs

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=120)


def plain_inputs(start: execution_pb2.ExecutionStart) -> dict[str, object]:
    return {named.name: codec.values.from_proto(named.value) for named in start.inputs}


def test_reruns_an_execution_started_outside_the_browser(page: Watched, host: Host) -> None:
    # Started by the Python client over gRPC: this browser has never seen it.
    execution_id, outputs = execute_with_client(
        host, "add", {"a": 30, "b": 12}, tags={"source": "python-client"}
    )
    assert outputs == {"result": 42}

    p = page.page
    p.goto(f"{page.origin}/#/executions?op=add")
    p.get_by_role("link", name=execution_id).click()
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text("42")
    expect(p.locator("dl.facts")).to_contain_text("source=python-client")
    expect(p.locator(".rerun-note")).to_have_count(0)
    page.shot("rerun-from-history")

    # Re-run: the same op, inputs and tags, as a new execution.
    p.get_by_role("button", name="Re-run").click()
    expect(p).not_to_have_url(re.compile(re.escape(execution_id)))
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text("42")
    expect(p.locator("dl.facts")).to_contain_text("source=python-client")
    rerun_id = p.url.rsplit("/", 1)[1]
    again = recorded_start(host, rerun_id)
    assert again.op_name == "add"
    assert plain_inputs(again) == {"a": 30, "b": 12}
    assert dict(again.tags) == {"source": "python-client"}
    assert not again.HasField("config")
    page.assert_clean()


def test_edits_the_inputs_of_an_execution_started_outside_the_browser(
    page: Watched, host: Host
) -> None:
    # Started with the generated gRPC stub, with config and tags.
    start = execution_pb2.ExecutionStart(op_name="greet", tags={"batch": "7"})
    start.inputs.add(name="name").value.CopyFrom(codec.values.to_proto("Ada"))
    start.config.CopyFrom(codec.values.to_proto({"greeting": "hi", "times": 2}))
    execution_id = start_with_stub(host, start)

    p = page.page
    p.goto(f"{page.origin}/#/executions?op=greet")
    p.get_by_role("link", name=execution_id).click()
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text('"hi, Ada hi, Ada"')

    # The form opens filled in with that execution's inputs, config and tags.
    p.get_by_role("link", name="Edit inputs and run").click()
    expect(p).to_have_url(re.compile(rf"#/ops/greet\?from={re.escape(execution_id)}$"))
    expect(
        p.get_by_text(f"Filled in with the inputs, config and tags of execution {execution_id}.")
    ).to_be_visible()
    expect(p.get_by_label("name", exact=True)).to_have_value("Ada")
    expect(p.get_by_label("config.greeting", exact=True)).to_have_value("hi")
    expect(p.get_by_label("config.times", exact=True)).to_have_value("2")
    expect(p.get_by_label("tags", exact=True)).to_have_value("batch=7")
    page.shot("rerun-edit-form")
    p.get_by_label("name", exact=True).fill("Grace")
    p.get_by_role("button", name="Run").click()
    expect(p).not_to_have_url(re.compile(re.escape(execution_id)))
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text('"hi, Grace hi, Grace"')
    edited = recorded_start(host, p.url.rsplit("/", 1)[1])
    assert plain_inputs(edited) == {"name": "Grace"}
    assert codec.values.from_proto(edited.config) == {"greeting": "hi", "times": 2}
    assert dict(edited.tags) == {"batch": "7"}
    page.assert_clean()


def test_cannot_rerun_an_input_uploaded_in_chunks(page: Watched, host: Host) -> None:
    # Over the host's inline threshold (1 MiB): the Python client uploads the name in
    # chunks, and the host returns it as a reference without its data.
    name = "x" * ((1 << 20) + 10)
    execution_id, outputs = execute_with_client(
        host, "greet", {"name": name}, config={"greeting": "hi"}
    )
    assert outputs == {"result": f"hi, {name}"}
    kept = recorded_start(host, execution_id)
    assert kept.inputs[0].value.HasField("chunked_value")
    assert not kept.config.HasField("chunked_value")

    p = page.page
    p.goto(f"{page.origin}/#/executions/{execution_id}")
    expect_state(p, "succeeded")
    rerun = p.get_by_role("button", name="Re-run")
    expect(rerun).to_be_disabled()
    note = p.locator(".rerun-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("inputs.name was uploaded in chunks")
    expect(rerun).to_have_attribute("aria-describedby", re.compile(r"."))
    page.shot("rerun-chunked")

    # The form still opens from it, filled in but for the chunked input, left to give.
    p.get_by_role("link", name="Edit inputs and run").click()
    expect(p.get_by_text(re.compile("Left empty: inputs.name, uploaded in chunks"))).to_be_visible()
    expect(p.get_by_label("name", exact=True)).to_have_value("")
    expect(p.get_by_label("config.greeting", exact=True)).to_have_value("hi")
    p.get_by_label("name", exact=True).fill("Bo")
    p.get_by_role("button", name="Run").click()
    expect_state(p, "succeeded")
    expect(p.locator("dl.outputs .output-value")).to_have_text('"hi, Bo"')
    page.assert_clean()


def test_says_what_is_wrong_with_an_unknown_execution_or_op(page: Watched) -> None:
    p = page.page
    p.goto(f"{page.origin}/#/executions/no-such-execution")
    alert = p.locator(".error-box")
    expect(alert).to_contain_text("NOT_FOUND")
    expect(alert).to_contain_text("no-such-execution")
    p.goto(f"{page.origin}/#/ops/ad")
    expect(alert).to_contain_text("OP_NOT_FOUND")
    expect(alert).to_contain_text("did you mean 'add'?")
    page.assert_clean()


def test_pages_the_history_and_filters_it_by_time(page: Watched) -> None:
    ids = []
    for n in range(3):
        p = run_op(page, "add", {"a": str(n), "b": "100"})
        expect_state(p, "succeeded")
        ids.append(p.url.rsplit("/", 1)[1])
    p.goto(f"{page.origin}/#/executions?op=add&size=2")
    rows = p.locator("table.executions tbody tr")
    expect(p.get_by_text("Page 1: 2 executions.")).to_be_visible()
    # Newest first: the last two started.
    expect(rows.nth(0)).to_contain_text(ids[2])
    expect(rows.nth(1)).to_contain_text(ids[1])
    expect(p.get_by_role("button", name="Previous page")).to_be_disabled()
    p.get_by_role("button", name="Next page").click()
    expect(p.get_by_text(re.compile(r"^Page 2: \d executions\.$"))).to_be_visible()
    expect(rows.nth(0)).to_contain_text(ids[0])
    p.get_by_role("button", name="Previous page").click()
    expect(p.get_by_text("Page 1: 2 executions.")).to_be_visible()
    expect(rows.nth(0)).to_contain_text(ids[2])

    # Created after a time in the future: nothing.
    p.get_by_label("Created after", exact=True).fill("2999-01-01T00:00:00")
    p.get_by_role("button", name="Filter").click()
    expect(p).to_have_url(re.compile(r"after=2999"))
    expect(p.get_by_text("No executions match.")).to_be_visible()
    expect(rows).to_have_count(0)
    page.assert_clean()


def test_plots_executions_over_time_and_duration_percentiles(page: Watched) -> None:
    run_op(page, "add", {"a": "1", "b": "1"})
    expect_state(page.page, "succeeded")
    p = page.page
    p.get_by_role("link", name="Plots").click()
    over_time = p.locator(
        "section", has=p.get_by_role("heading", name="Executions over time, by outcome")
    )
    expect(over_time.locator("svg.plot rect.bar-succeeded").first).to_be_attached()
    pct = p.locator("section", has=p.get_by_role("heading", name=re.compile("^Run time per op")))
    expect(pct.locator("svg.plot circle.p50").first).to_be_attached()
    pct.get_by_text("The numbers").click()
    expect(pct.get_by_role("cell", name="add", exact=True)).to_be_visible()
    page.shot("plots")
    page.assert_clean()


def test_asks_for_a_token_on_a_secured_host(browser: Browser, secured_host: Host) -> None:
    for w in _page(browser, secured_host):
        p = w.page
        p.goto(f"{w.origin}/")
        prompt = p.get_by_role("heading", name="This host requires a token")
        expect(prompt).to_be_visible()
        expect(p.get_by_role("link", name="add", exact=True)).to_have_count(0)
        expect(
            p.get_by_text("UNAUTHENTICATED").or_(p.get_by_text("refused the call without a token"))
        ).to_be_visible()
        w.shot("token-prompt")

        p.get_by_label("Token", exact=True).fill("not-the-token")
        p.get_by_role("button", name="Use token").click()
        expect(p.get_by_text(re.compile("^The host refused the token"))).to_be_visible()

        p.get_by_label("Token", exact=True).fill(TOKEN)
        p.get_by_role("button", name="Use token").click()
        expect(p.get_by_role("link", name="add", exact=True)).to_be_visible()
        # Kept for this tab only: nothing in localStorage unless "Remember" is ticked.
        assert p.evaluate("() => localStorage.length") == 0
        run_op(w, "add", {"a": "2", "b": "3"})
        expect_state(p, "succeeded")
        expect(p.locator("dl.outputs .output-value")).to_have_text("5")

        # This host withholds error details: a failure shows the id it logged, no stack.
        run_op(w, "report", {})
        expect_state(p, "succeeded")
        failure = p.locator("li[data-kind=stepFailure]")
        expect(failure).to_contain_text("withholds this error's details")
        expect(failure.locator("pre.stack")).to_have_count(0)
        expect(failure).not_to_contain_text("the warehouse did not answer")

        # Forgetting the token brings the prompt back.
        p.get_by_role("button", name="Forget token").click()
        expect(p.get_by_role("heading", name="This host requires a token")).to_be_visible()
        assert p.evaluate("() => sessionStorage.getItem('ophost.console.token')") is None

        # Remembered only when asked: then it is in localStorage, until forgotten.
        p.get_by_label("Token", exact=True).fill(TOKEN)
        p.get_by_label(re.compile("^Remember the token in this browser")).check()
        p.get_by_role("button", name="Use token").click()
        # The page asked for the token comes back: the execution it showed.
        expect_state(p, "succeeded")
        assert p.evaluate("() => localStorage.getItem('ophost.console.token')") == TOKEN
        p.get_by_role("button", name="Forget token").click()
        expect(p.get_by_role("heading", name="This host requires a token")).to_be_visible()
        assert p.evaluate("() => localStorage.length") == 0
        w.assert_clean()
