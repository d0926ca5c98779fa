// The start request an execution was created with, as the host returns it
// (GetExecution with include_start), and whether the console can send it again.
import type { Execution, ExecutionStart } from "./gen/ophost/v1/execution_pb";
import type { Value } from "./gen/ophost/v1/value_pb";
import { host } from "./api";

/** An execution and the start the host accepted for it (unset when the host keeps none). */
export interface Recorded {
  execution: Execution;
  start: ExecutionStart | undefined;
}

/** Reads an execution with its start request. */
export async function readExecution(id: string, signal: AbortSignal): Promise<Recorded> {
  const response = await host.getExecution({ executionId: id, includeStart: true }, { signal });
  if (!response.execution) throw new Error("the host returned no execution");
  return { execution: response.execution, start: response.start };
}

/** Whether the value is, or holds, a value uploaded in chunks (a reference without its data). */
export function isChunked(value: Value | undefined): boolean {
  const kind = value?.kind;
  switch (kind?.case) {
    case "chunkedValue":
      return true;
    case "listValue":
    case "tupleValue":
    case "setValue":
      return kind.value.values.some(isChunked);
    case "mapValue":
      return kind.value.entries.some((e) => isChunked(e.key) || isChunked(e.value));
    default:
      return false;
  }
}

/** The paths ("inputs.text", "config") of the start's values that were uploaded in chunks. */
export function chunkedPaths(start: ExecutionStart): string[] {
  const paths = start.inputs.filter((named) => isChunked(named.value)).map((named) => `inputs.${named.name}`);
  if (isChunked(start.config)) paths.push("config");
  return paths;
}

/** Why the console cannot start this execution again with the same inputs; null when it can. */
export function whyNotRerun(start: ExecutionStart | undefined): string | null {
  if (!start) {
    return "Re-run is not available: the host did not return the inputs this execution was started with (it no longer keeps its start request).";
  }
  const chunked = chunkedPaths(start);
  if (chunked.length > 0) {
    const names = chunked.join(", ");
    return `Re-run is not available: ${names} ${chunked.length === 1 ? "was" : "were"} uploaded in chunks, and the host does not return uploaded data, so the console cannot send ${chunked.length === 1 ? "it" : "them"} again. Edit inputs and run fills in the rest for you to give ${chunked.length === 1 ? "it" : "them"} anew.`;
  }
  return null;
}
