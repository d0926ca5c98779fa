// One execution's events as list items: what happened, in words, with its data.
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { ErrorData } from "./gen/ophost/v1/error_pb";
import { CancelOutcome, ErrorSource, ExecutionStatus, LogLevel, type Event } from "./gen/ophost/v1/event_pb";
import { append, h } from "./dom";
import { durationText, timeText } from "./format";
import { metadataList } from "./metadata";
import { isComposite, toPlain, valueText } from "./values";

const LEVELS: Record<LogLevel, string> = {
  [LogLevel.UNSPECIFIED]: "LOG",
  [LogLevel.DEBUG]: "DEBUG",
  [LogLevel.INFO]: "INFO",
  [LogLevel.WARNING]: "WARNING",
  [LogLevel.ERROR]: "ERROR",
  [LogLevel.CRITICAL]: "CRITICAL",
};

const SOURCES: Record<ErrorSource, string> = {
  [ErrorSource.UNSPECIFIED]: "unknown",
  [ErrorSource.USER_CODE]: "the op's code",
  [ErrorSource.FRAMEWORK]: "a broken contract (ophost)",
  [ErrorSource.INTERRUPT]: "an interruption",
  [ErrorSource.UNEXPECTED]: "an error inside ophost",
  [ErrorSource.HOST_LOST]: "a lost host process",
  [ErrorSource.WORKER_CRASHED]: "a crashed worker",
  [ErrorSource.WORKER_LOST]: "a lost worker",
  [ErrorSource.MEMORY_LIMIT]: "the memory limit",
  [ErrorSource.TIMEOUT]: "the time limit",
};

const OUTCOMES: Record<CancelOutcome, string> = {
  [CancelOutcome.UNSPECIFIED]: "",
  [CancelOutcome.NOT_STARTED]: "before the op started",
  [CancelOutcome.COOPERATIVE]: "the op stopped when asked",
  [CancelOutcome.FORCED]: "the host stopped the op",
  [CancelOutcome.ABANDONED]: "the op could not be stopped; its results are discarded",
};

export function statusWord(status: ExecutionStatus): string {
  switch (status) {
    case ExecutionStatus.SUCCEEDED:
      return "succeeded";
    case ExecutionStatus.FAILED:
      return "failed";
    case ExecutionStatus.CANCELED:
      return "canceled";
    default:
      return "unknown";
  }
}

export function seconds(duration: Duration | undefined): number {
  return duration ? Number(duration.seconds) + duration.nanos / 1e9 : 0;
}

/** The list item of one event. */
export function eventItem(event: Event): HTMLElement {
  const [kind, summary, body] = describe(event);
  return h(
    "li",
    { class: `event event-${kind.replace(/ /g, "-")}`, "data-kind": event.kind.case ?? "unknown", "data-sequence": String(event.sequence) },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: "seq" }, `#${event.sequence}`),
      h("time", { datetime: event.timestamp ? new Date(Number(event.timestamp.seconds) * 1000).toISOString() : "" }, timeText(event.timestamp)),
      event.attempt > 0 ? h("span", { class: "attempt" }, `attempt ${event.attempt + 1}`) : null,
      h("span", { class: "kind" }, kind),
      h("span", { class: "summary" }, summary),
    ),
    body,
  );
}

function describe(event: Event): [string, string, Node | null] {
  const kind = event.kind;
  switch (kind.case) {
    case "executionStarted":
      return ["created", kind.value.requestId ? `request id ${kind.value.requestId}` : "", null];
    case "stepStarted":
      return ["step started", "the op began its first attempt", null];
    case "stepRestarted":
      return ["retry started", `attempt ${event.attempt + 1} began`, null];
    case "inputChecked": {
      const ok = kind.value.typeCheck?.success ?? false;
      return [
        ok ? "input checked" : "input check failed",
        `${kind.value.inputName}: ${ok ? "passed" : "failed"}${kind.value.typeCheck?.description ? ` — ${kind.value.typeCheck.description}` : ""}`,
        metadataList(kind.value.typeCheck?.metadata ?? []),
      ];
    }
    case "output": {
      const value = kind.value.value;
      const folded = isComposite(value)
        ? h("details", { class: "json" }, h("summary", {}, "value as JSON"), h("pre", {}, JSON.stringify(toPlain(value), null, 2)))
        : null;
      return [
        "output",
        `${kind.value.outputName} = ${valueText(value).slice(0, 200)}`,
        h("div", {}, folded, metadataList(kind.value.metadata), kind.value.typeCheck && !kind.value.typeCheck.success ? h("p", { class: "bad" }, `type check failed: ${kind.value.typeCheck.description ?? ""}`) : null),
      ];
    }
    case "assetMaterialization":
    case "assetObservation": {
      // An observation reads like a materialization: the asset, then what was reported of it.
      const m = kind.value;
      const tags = Object.entries(m.tags);
      return [
        kind.case === "assetMaterialization" ? "materialization" : "observation",
        `${m.assetKey?.path.join(" / ") ?? ""}${m.partition ? ` (partition ${m.partition})` : ""}${m.description ? ` — ${m.description}` : ""}`,
        h("div", {}, metadataList(m.metadata), tags.length ? h("p", { class: "hint" }, `tags: ${tags.map(([k, v]) => `${k}=${v}`).join(", ")}`) : null),
      ];
    }
    case "expectationResult": {
      const e = kind.value;
      return [
        e.success ? "expectation passed" : "expectation failed",
        `${e.label}${e.description ? ` — ${e.description}` : ""}`,
        metadataList(e.metadata),
      ];
    }
    case "log":
      return ["log", `${LEVELS[kind.value.level] ?? "LOG"} ${kind.value.message}`, null];
    case "retryScheduled": {
      const r = kind.value;
      const wait = r.delaySeconds > 0 ? `waiting ${durationText(r.delaySeconds)}` : "without waiting";
      return ["retry scheduled", `attempt ${r.failedAttempt + 1} failed; attempt ${r.nextAttempt + 1} follows, ${wait}`, errorView(r.error, false)];
    }
    case "stepFailure": {
      const f = kind.value;
      return [
        "step failed",
        `caused by ${SOURCES[f.errorSource] ?? "unknown"}${f.willRetry ? "; it will be retried" : ""}`,
        h(
          "div",
          {},
          f.userFailure?.description ? h("p", {}, f.userFailure.description) : null,
          metadataList(f.userFailure?.metadata ?? []),
          errorView(f.error, true),
        ),
      ];
    }
    case "stepSuccess":
      return ["step succeeded", `in ${durationText(seconds(kind.value.duration))}`, null];
    case "valueChunk":
      return ["value chunk", `piece ${kind.value.index + 1} of value ${kind.value.valueId} (${kind.value.data.length} bytes)`, null];
    case "executionFinished": {
      const f = kind.value;
      const outcome = OUTCOMES[f.cancelOutcome] ?? "";
      return [
        `finished: ${statusWord(f.status)}`,
        `the execution ${statusWord(f.status)}${outcome ? ` (${outcome})` : ""}${f.cancelRequested && f.status !== ExecutionStatus.CANCELED ? " — a cancel was requested too late" : ""}`,
        f.error ? errorView(f.error, false) : null,
      ];
    }
    case undefined:
      return ["unknown", "an event this console does not know", null];
  }
}

/** An error with its message, its stack (when the host sends it) and its causes. */
export function errorView(error: ErrorData | undefined, open: boolean): HTMLElement | null {
  if (!error) return null;
  const block = h("div", { class: "error-data" }, h("p", {}, h("code", {}, error.typeName), `: ${error.message}`));
  if (error.errorId) {
    block.append(h("p", { class: "hint" }, `The host withholds this error's details from clients; its log has them under error id ${error.errorId}.`));
  } else if (error.stack.length > 0) {
    block.append(h("details", { open }, h("summary", {}, "Stack (most recent call last)"), h("pre", { class: "stack" }, error.stack.join(""))));
  }
  const cause = error.cause ?? error.context;
  if (cause) {
    append(block, [h("p", { class: "hint" }, error.cause ? "Caused by:" : "While handling:"), errorView(cause, false)]);
  }
  return block;
}
