// Words and numbers the views share: state names, times, durations.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ExecutionState, type Execution } from "./gen/ophost/v1/execution_pb";

const STATE_WORDS: Record<ExecutionState, string> = {
  [ExecutionState.UNSPECIFIED]: "unknown",
  [ExecutionState.PENDING]: "pending",
  [ExecutionState.RUNNING]: "running",
  [ExecutionState.CANCEL_REQUESTED]: "cancel requested",
  [ExecutionState.SUCCEEDED]: "succeeded",
  [ExecutionState.FAILED]: "failed",
  [ExecutionState.CANCELED]: "canceled",
};

/** The states a user can filter by, in lifecycle order. */
export const STATES: readonly ExecutionState[] = [
  ExecutionState.PENDING,
  ExecutionState.RUNNING,
  ExecutionState.CANCEL_REQUESTED,
  ExecutionState.SUCCEEDED,
  ExecutionState.FAILED,
  ExecutionState.CANCELED,
];

export function stateWord(state: ExecutionState): string {
  return STATE_WORDS[state] ?? "unknown";
}

/** A CSS class for the state's colour (the word is always shown as well). */
export function stateClass(state: ExecutionState): string {
  return `state state-${stateWord(state).replace(/ /g, "-")}`;
}

export function isTerminal(state: ExecutionState): boolean {
  return state === ExecutionState.SUCCEEDED || state === ExecutionState.FAILED || state === ExecutionState.CANCELED;
}

export function toDate(ts: Timestamp | undefined): Date | null {
  return ts ? timestampDate(ts) : null;
}

/** A local date and time, to the second. */
export function timeText(ts: Timestamp | Date | undefined | null): string {
  const date = ts instanceof Date ? ts : toDate(ts ?? undefined);
  if (!date) return "—";
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** A duration in seconds, as "850 ms", "12.3 s", "4 min 05 s" or "2 h 03 min". */
export function durationText(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** How long the execution ran (start to finish), or null when it has not finished
 * or never started. */
export function runSeconds(execution: Execution): number | null {
  const start = toDate(execution.startTime);
  const finish = toDate(execution.finishTime);
  if (!start || !finish) return null;
  return (finish.getTime() - start.getTime()) / 1000;
}

/** The value at quantile `q` (0..1) of sorted numbers, interpolated linearly. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (at - lo);
}
