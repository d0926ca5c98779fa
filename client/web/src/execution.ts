// One execution: its state, its events as they happen (or replayed from the
// start), a progress display while it runs, Cancel, and Re-run.
import { create } from "@bufbuild/protobuf";
import { ExecutionStartSchema, ExecutionState, type Execution, type ExecutionStart } from "./gen/ophost/v1/execution_pb";
import type { Event } from "./gen/ophost/v1/event_pb";
import { Code, ConnectError } from "@connectrpc/connect";
import { callError, host, isAbort } from "./api";
import { append, h, replace, uid } from "./dom";
import { durationText, isTerminal, quantile, runSeconds, stateClass, stateWord, timeText, toDate } from "./format";
import { eventItem } from "./events";
import { errorBox, heading, showFailure } from "./shell";
import { readExecution, whyNotRerun } from "./starts";
import { valueText } from "./values";

/** Errors after which the event stream is resumed, and how often in a row. */
const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.Aborted, Code.DeadlineExceeded]);
const MAX_RESUMES = 5;

/** The most events one page shows at once. */
const MAX_SHOWN_EVENTS = 5000;

export function executionView(id: string) {
  return async (root: HTMLElement, signal: AbortSignal): Promise<void> => {
    const title = heading(root, `Execution ${id}`);
    let execution: Execution;
    let start: ExecutionStart | undefined;
    try {
      ({ execution, start } = await readExecution(id, signal));
    } catch (error) {
      showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), `Reading execution ${id} failed`);
      return;
    }
    title.focus();
    new ExecutionPage(root, execution, start, signal).start();
  };
}

class ExecutionPage {
  private readonly state = h("span", { class: "state", role: "status" });
  private readonly facts = h("dl", { class: "facts" });
  private readonly outputs = h("dl", { class: "outputs" });
  private readonly events = h("ol", { class: "events", role: "log", "aria-label": "Events" });
  private readonly progress = h("section", { class: "progress", "aria-labelledby": "progress-heading" });
  private readonly message = h("div", { class: "messages" });
  private readonly cancel = h("button", { type: "button", class: "danger" }, "Cancel");
  private readonly streamStatus = h("p", { class: "hint", role: "status" });
  private readonly droppedNote = h("p", { class: "hint", hidden: true });
  private dropped = 0;
  private typicalSeconds: number | null = null;
  private typicalCount = 0;
  private timer = 0;
  private count = 0;

  constructor(
    private readonly root: HTMLElement,
    private execution: Execution,
    // The start request the host accepted for this execution: what Re-run sends again.
    private readonly recordedStart: ExecutionStart | undefined,
    private readonly signal: AbortSignal,
  ) {}

  start(): void {
    const blocked = whyNotRerun(this.recordedStart);
    const noteId = uid("rerun-note");
    const rerun = h("button", { type: "button", disabled: blocked !== null, "aria-describedby": blocked ? noteId : null }, "Re-run");
    const op = encodeURIComponent(this.execution.opName);
    // The form opens filled in with the start (but for values uploaded in chunks), or
    // empty when the host returned none.
    const edit = this.recordedStart
      ? h("a", { href: `#/ops/${op}?from=${encodeURIComponent(this.execution.id)}`, class: "button" }, "Edit inputs and run")
      : h("a", { href: `#/ops/${op}`, class: "button" }, `Run ${this.execution.opName} again`);
    rerun.addEventListener("click", () => void this.rerun(rerun));
    this.cancel.addEventListener("click", () => void this.requestCancel());
    append(this.root, [
      h("p", {}, "State: ", this.state),
      h("div", { class: "actions" }, this.cancel, rerun, edit),
      blocked ? h("p", { class: "notice rerun-note", id: noteId }, blocked) : null,
      this.message,
      this.progress,
      this.facts,
      h("h2", {}, "Outputs"),
      this.outputs,
      h("h2", { id: "events-heading" }, "Events"),
      this.streamStatus,
      this.droppedNote,
      this.events,
    ]);
    this.render();
    if (!isTerminal(this.execution.state)) {
      void this.loadTypical();
      this.timer = window.setInterval(() => this.renderProgress(), 250);
      this.signal.addEventListener("abort", () => window.clearInterval(this.timer));
    }
    void this.stream();
  }

  private async stream(): Promise<void> {
    const live = !isTerminal(this.execution.state);
    this.streamStatus.textContent = live ? "Watching events live…" : "Replaying the recorded events…";
    let after = 0n;
    let retries = 0;
    // The events from the first one rebuild the outputs, whatever GetExecution said.
    this.execution.outputs = [];
    for (;;) {
      try {
        for await (const response of host.streamEvents({ executionId: this.execution.id, afterSequence: after }, { signal: this.signal })) {
          retries = 0;
          for (const event of response.events) {
            after = event.sequence;
            this.apply(event);
          }
        }
        break;
      } catch (error) {
        if (isAbort(error) && this.signal.aborted) return;
        // A dropped connection (a restarting host, a proxy's timeout): resume after the
        // last event seen, a few times, before giving up.
        if (TRANSIENT.has(ConnectError.from(error).code) && retries < MAX_RESUMES) {
          retries += 1;
          this.streamStatus.textContent = `The event stream was interrupted; resuming after event ${after} (try ${retries} of ${MAX_RESUMES})…`;
          await new Promise((resolve) => window.setTimeout(resolve, 500 * retries));
          if (this.signal.aborted) return;
          continue;
        }
        this.streamStatus.textContent = "The event stream stopped.";
        showFailure(this.message, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), "Streaming the events failed");
        return;
      }
    }
    this.streamStatus.textContent =
      this.dropped === 0 ? `All ${this.count} events shown.` : `All ${this.count} events received; the newest ${MAX_SHOWN_EVENTS} are shown.`;
    await this.refresh();
  }

  private apply(event: Event): void {
    this.count += 1;
    this.events.append(eventItem(event));
    // A long op can log without end: the page keeps the newest events only.
    if (this.events.childElementCount > MAX_SHOWN_EVENTS) {
      this.events.firstElementChild?.remove();
      this.dropped += 1;
      this.droppedNote.hidden = false;
      this.droppedNote.textContent = `The first ${this.dropped} events are not shown; the page keeps the newest ${MAX_SHOWN_EVENTS}.`;
    }
    const kind = event.kind;
    const e = this.execution;
    e.attempt = event.attempt;
    switch (kind.case) {
      case "stepStarted":
      case "stepRestarted":
        if (e.state === ExecutionState.PENDING) e.state = ExecutionState.RUNNING;
        if (!e.startTime && event.timestamp) e.startTime = event.timestamp;
        break;
      case "output":
        if (kind.value.value) e.outputs.push({ $typeName: "ophost.v1.NamedValue", name: kind.value.outputName, value: kind.value.value });
        break;
      case "executionFinished":
        e.state = [ExecutionState.UNSPECIFIED, ExecutionState.SUCCEEDED, ExecutionState.FAILED, ExecutionState.CANCELED][kind.value.status] ?? ExecutionState.UNSPECIFIED;
        if (event.timestamp) e.finishTime = event.timestamp;
        window.clearInterval(this.timer);
        break;
      default:
        break;
    }
    this.render();
  }

  private async refresh(): Promise<void> {
    try {
      const response = await host.getExecution({ executionId: this.execution.id }, { signal: this.signal });
      if (response.execution) this.execution = response.execution;
      this.render();
    } catch (error) {
      if (!isAbort(error)) this.message.append(errorBox(error, "Reading the execution failed"));
    }
  }

  private async requestCancel(): Promise<void> {
    this.cancel.disabled = true;
    this.cancel.textContent = "Canceling…";
    try {
      const response = await host.cancelExecution({ executionId: this.execution.id, reason: "canceled from the web console" }, { signal: this.signal });
      if (response.execution && !isTerminal(this.execution.state)) this.execution.state = response.execution.state;
      this.render();
    } catch (error) {
      this.cancel.disabled = false;
      this.cancel.textContent = "Cancel";
      showFailure(this.message, error, () => void this.requestCancel(), "Canceling failed");
    }
  }

  private async rerun(button: HTMLButtonElement): Promise<void> {
    const previous = this.recordedStart;
    if (!previous || whyNotRerun(previous) !== null) return;
    button.disabled = true;
    // The same op, inputs, config and tags; a new request id, so it is a new execution.
    const start = create(ExecutionStartSchema, { ...previous, requestId: crypto.randomUUID() });
    try {
      const response = await host.startExecution({ start });
      const execution = response.execution;
      if (!execution) throw new Error("the host returned no execution");
      window.location.hash = `#/executions/${encodeURIComponent(execution.id)}`;
    } catch (error) {
      button.disabled = false;
      const e = callError(error);
      showFailure(this.message, error, () => void this.rerun(button), `Re-running failed${e.violations.length ? ` (${e.violations.map((v) => `${v.field}: ${v.description}`).join("; ")})` : ""}`);
    }
  }

  private async loadTypical(): Promise<void> {
    try {
      const page = await host.listExecutions(
        { opName: this.execution.opName, states: [ExecutionState.SUCCEEDED], pageSize: 50 },
        { signal: this.signal },
      );
      const durations = page.executions.map(runSeconds).filter((d): d is number => d !== null).sort((a, b) => a - b);
      if (durations.length > 0) {
        this.typicalSeconds = quantile(durations, 0.5);
        this.typicalCount = durations.length;
      }
    } catch {
      // Without history the progress display shows the elapsed time alone.
    }
  }

  private render(): void {
    const e = this.execution;
    this.state.className = stateClass(e.state);
    this.state.textContent = stateWord(e.state);
    const terminal = isTerminal(e.state);
    this.cancel.disabled = terminal || e.state === ExecutionState.CANCEL_REQUESTED;
    if (this.cancel.textContent !== "Canceling…" || terminal) this.cancel.textContent = "Cancel";
    const run = runSeconds(e);
    replace(
      this.facts,
      fact("Op", h("a", { href: `#/ops/${encodeURIComponent(e.opName)}` }, e.opName)),
      fact("Id", h("code", {}, e.id)),
      fact("Created", timeText(e.createTime)),
      fact("Started", timeText(e.startTime)),
      fact("Finished", timeText(e.finishTime)),
      fact("Ran for", run === null ? "—" : durationText(run)),
      fact("Attempt", String(e.attempt + 1)),
      Object.keys(e.tags).length ? fact("Tags", Object.entries(e.tags).map(([k, v]) => `${k}=${v}`).join(", ")) : null,
    );
    replace(
      this.outputs,
      e.outputs.length === 0 ? h("p", { class: "hint" }, terminal ? "No outputs." : "None yet.") : null,
      e.outputs.map((o) => [h("dt", {}, o.name), h("dd", {}, h("code", { class: "output-value" }, valueText(o.value)))]),
    );
    this.renderProgress();
  }

  private readonly progressHeading = h("h2", { id: "progress-heading" });
  private readonly progressText = h("p", {});
  private progressBar: HTMLProgressElement | null = null;

  private renderProgress(): void {
    const e = this.execution;
    if (isTerminal(e.state)) {
      replace(this.progress);
      this.progress.hidden = true;
      return;
    }
    this.progress.hidden = false;
    const since = toDate(e.startTime) ?? toDate(e.createTime);
    const elapsed = since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0;
    const typical = this.typicalSeconds !== null && this.typicalSeconds > 0 ? this.typicalSeconds : null;
    // Without an estimate the bar stays indeterminate (no value), and is kept so its
    // animation runs on; with one it shows the elapsed time against the estimate.
    if (!this.progressBar || (typical !== null && !this.progressBar.hasAttribute("value"))) {
      this.progressBar = h("progress", { "aria-labelledby": "progress-heading" });
      replace(this.progress, this.progressHeading, this.progressBar, this.progressText);
    }
    let text = `${durationText(elapsed)} elapsed · ${this.count} events · attempt ${e.attempt + 1}`;
    if (typical !== null) {
      this.progressBar.max = typical;
      this.progressBar.value = Math.min(elapsed, typical);
      text += ` · a successful run usually takes about ${durationText(typical)} (median of the last ${this.typicalCount}), so this bar is an estimate`;
      if (elapsed > typical) text += "; this one is taking longer";
    }
    this.progressHeading.textContent = e.state === ExecutionState.PENDING ? "Waiting for a free slot" : e.state === ExecutionState.CANCEL_REQUESTED ? "Stopping" : "Running";
    this.progressText.textContent = text;
  }
}

function fact(label: string, value: Node | string): Node[] {
  return [h("dt", {}, label), h("dd", {}, value)];
}

