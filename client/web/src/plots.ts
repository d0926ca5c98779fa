// Plots drawn from the host's own data (ListExecutions pages): executions over time
// by outcome, and run-time percentiles per op. Inline SVG, with the numbers in a
// table beside each plot.
import { ExecutionState, type Execution } from "./gen/ophost/v1/execution_pb";
import { OpView } from "./gen/ophost/v1/op_host_service_pb";
import { host } from "./api";
import { allOps } from "./catalogue";
import { h, s } from "./dom";
import { durationText, quantile, runSeconds, timeText, toDate } from "./format";
import { filterForm, filtersFrom, requestFor, type Filters } from "./history";
import { heading, showFailure } from "./shell";

/** At most this many executions are read for the plots. */
const MAX_EXECUTIONS = 5000;
const BUCKETS = 24;

type Outcome = "succeeded" | "failed" | "canceled" | "unfinished";
const OUTCOMES: readonly Outcome[] = ["succeeded", "failed", "canceled", "unfinished"];

function outcome(state: ExecutionState): Outcome {
  if (state === ExecutionState.SUCCEEDED) return "succeeded";
  if (state === ExecutionState.FAILED) return "failed";
  if (state === ExecutionState.CANCELED) return "canceled";
  return "unfinished";
}

export function plotsView(query: URLSearchParams) {
  return async (root: HTMLElement, signal: AbortSignal): Promise<void> => {
    heading(root, "Plots");
    const filters = filtersFrom(query);
    const chosenRange = Boolean(filters.after || filters.before);
    if (!chosenRange) {
      // The last 24 hours by default, in the datetime-local format of the form.
      filters.after = localText(new Date(Date.now() - 24 * 3600 * 1000));
    }
    let names: string[];
    try {
      names = (await allOps(signal, OpView.BASIC)).map((op) => op.name);
    } catch (error) {
      showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), "Listing the ops failed");
      return;
    }
    root.append(filterForm(filters, names, "#/plots", "Plot", false));
    const status = h("p", { class: "hint", role: "status" }, "Reading executions…");
    root.append(status);
    let executions: Execution[];
    let complete: boolean;
    try {
      [executions, complete] = await readExecutions(filters, signal);
    } catch (error) {
      status.textContent = "";
      showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), "Listing the executions failed");
      return;
    }
    status.textContent = `${executions.length} executions${complete ? "" : ` (the newest ${MAX_EXECUTIONS} only)`}.`;
    // The time axis spans the range asked for, or, by default, the executions found.
    const from = filters.after && chosenRange ? new Date(filters.after) : oldest(executions);
    const to = filters.before ? new Date(filters.before) : new Date();
    root.append(overTime(executions, from, to), percentiles(executions));
  };
}

async function readExecutions(filters: Filters, signal: AbortSignal): Promise<[Execution[], boolean]> {
  const all: Execution[] = [];
  let token = "";
  do {
    const page = await host.listExecutions(requestFor(filters, token, 500), { signal });
    all.push(...page.executions);
    token = page.nextPageToken;
  } while (token && all.length < MAX_EXECUTIONS);
  return [all.slice(0, MAX_EXECUTIONS), !token];
}

function oldest(executions: readonly Execution[]): Date {
  const times = executions.map((e) => toDate(e.createTime)?.getTime() ?? Date.now());
  return new Date(times.length ? Math.min(...times) : Date.now() - 3600 * 1000);
}

function localText(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const W = 720;
const H = 260;
const M = { left: 48, right: 12, top: 12, bottom: 36 };

function overTime(executions: readonly Execution[], from: Date, to: Date): HTMLElement {
  const start = from.getTime();
  const span = Math.max(1000, to.getTime() - start);
  const width = span / BUCKETS;
  const counts = Array.from({ length: BUCKETS }, () => ({ succeeded: 0, failed: 0, canceled: 0, unfinished: 0 }));
  for (const e of executions) {
    const t = toDate(e.createTime)?.getTime();
    if (t === undefined) continue;
    const i = Math.min(BUCKETS - 1, Math.max(0, Math.floor((t - start) / width)));
    const bucket = counts[i];
    if (bucket) bucket[outcome(e.state)] += 1;
  }
  const max = Math.max(1, ...counts.map((c) => c.succeeded + c.failed + c.canceled + c.unfinished));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const barW = plotW / BUCKETS;
  const y = (n: number) => M.top + plotH - (n / max) * plotH;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "over-time-title", class: "plot" });
  svg.append(s("title", { id: "over-time-title" }, `Executions created between ${timeText(from)} and ${timeText(to)}, by outcome`));
  for (const tick of ticks(max)) {
    svg.append(
      s("line", { x1: M.left, x2: W - M.right, y1: y(tick), y2: y(tick), class: "grid" }),
      s("text", { x: M.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "axis" }, String(tick)),
    );
  }
  counts.forEach((c, i) => {
    let base = 0;
    const x = M.left + i * barW + 1;
    const bucketStart = new Date(start + i * width);
    for (const name of OUTCOMES) {
      const n = c[name];
      if (n === 0) continue;
      svg.append(
        s("rect", { x, y: y(base + n), width: Math.max(1, barW - 2), height: y(base) - y(base + n), class: `bar-${name}` }, s("title", {}, `${timeText(bucketStart)}: ${n} ${name}`)),
      );
      base += n;
    }
  });
  for (const [i, anchor] of [[0, "start"], [BUCKETS / 2, "middle"], [BUCKETS, "end"]] as const) {
    svg.append(s("text", { x: M.left + i * barW, y: H - 12, "text-anchor": anchor, class: "axis" }, timeText(new Date(start + i * width))));
  }
  const rows = counts
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.succeeded + c.failed + c.canceled + c.unfinished > 0)
    .map(({ c, i }) => h("tr", {}, h("td", {}, timeText(new Date(start + i * width))), OUTCOMES.map((o) => h("td", {}, String(c[o])))));
  return h(
    "section",
    { class: "plot-section", "aria-labelledby": "over-time-heading" },
    h("h2", { id: "over-time-heading" }, "Executions over time, by outcome"),
    legend(),
    svg,
    h(
      "details",
      {},
      h("summary", {}, "The numbers"),
      h("table", { class: "data" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "from"), OUTCOMES.map((o) => h("th", { scope: "col" }, o)))), h("tbody", {}, rows)),
    ),
  );
}

function legend(): HTMLElement {
  return h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    OUTCOMES.map((o) => h("li", {}, s("svg", { width: 12, height: 12, "aria-hidden": "true" }, s("rect", { width: 12, height: 12, class: `bar-${o}` })), ` ${o}`)),
  );
}

function mark(shape: SVGElement): SVGElement {
  return s("svg", { width: 12, height: 12, "aria-hidden": "true" }, shape);
}

function ticks(max: number): number[] {
  const step = Math.max(1, Math.ceil(max / 4));
  const out: number[] = [];
  for (let t = 0; t <= max; t += step) out.push(t);
  return out;
}

function percentiles(executions: readonly Execution[]): HTMLElement {
  const byOp = new Map<string, number[]>();
  for (const e of executions) {
    const d = runSeconds(e);
    if (d === null) continue;
    const list = byOp.get(e.opName) ?? [];
    list.push(d);
    byOp.set(e.opName, list);
  }
  const stats = [...byOp.entries()]
    .map(([op, list]) => {
      const sorted = list.sort((a, b) => a - b);
      return { op, n: sorted.length, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99) };
    })
    .sort((a, b) => a.op.localeCompare(b.op));
  const section = h(
    "section",
    { class: "plot-section", "aria-labelledby": "pct-heading" },
    h("h2", { id: "pct-heading" }, "Run time per op: median, 90th and 99th percentiles"),
  );
  if (stats.length === 0) {
    section.append(h("p", { class: "hint" }, "No finished executions in this range."));
    return section;
  }
  const rowH = 28;
  const height = M.top + M.bottom + rowH * stats.length;
  const left = 160;
  const plotW = W - left - M.right;
  const max = Math.max(1e-3, ...stats.map((st) => st.p99));
  const x = (v: number) => left + (v / max) * plotW;
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-labelledby": "pct-title", class: "plot" });
  svg.append(s("title", { id: "pct-title" }, "Run time percentiles per op"));
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(
      s("line", { x1: x(max * f), x2: x(max * f), y1: M.top, y2: height - M.bottom, class: "grid" }),
      s("text", { x: x(max * f), y: height - 12, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle", class: "axis" }, durationText(max * f)),
    );
  }
  stats.forEach((st, i) => {
    const cy = M.top + rowH * i + rowH / 2;
    svg.append(
      s("text", { x: left - 8, y: cy + 4, "text-anchor": "end", class: "axis" }, st.op),
      s("line", { x1: x(st.p50), x2: x(st.p99), y1: cy, y2: cy, class: "range" }),
      s("circle", { cx: x(st.p50), cy, r: 5, class: "p50" }, s("title", {}, `${st.op} median ${durationText(st.p50)}`)),
      s("rect", { x: x(st.p90) - 4, y: cy - 4, width: 8, height: 8, class: "p90" }, s("title", {}, `${st.op} 90th percentile ${durationText(st.p90)}`)),
      s("path", { d: `M ${x(st.p99)} ${cy - 6} l 6 6 l -6 6 l -6 -6 z`, class: "p99" }, s("title", {}, `${st.op} 99th percentile ${durationText(st.p99)}`)),
    );
  });
  section.append(
    h(
      "ul",
      { class: "legend", "aria-label": "Legend" },
      h("li", {}, mark(s("circle", { cx: 6, cy: 6, r: 5, class: "p50" })), " median"),
      h("li", {}, mark(s("rect", { x: 2, y: 2, width: 8, height: 8, class: "p90" })), " 90th percentile"),
      h("li", {}, mark(s("path", { d: "M 6 0 l 6 6 l -6 6 l -6 -6 z", class: "p99" })), " 99th percentile"),
    ),
    svg,
    h(
      "details",
      {},
      h("summary", {}, "The numbers"),
      h(
        "table",
        { class: "data" },
        h("thead", {}, h("tr", {}, ["op", "finished runs", "median", "90th", "99th"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, stats.map((st) => h("tr", {}, h("td", {}, st.op), h("td", {}, String(st.n)), h("td", {}, durationText(st.p50)), h("td", {}, durationText(st.p90)), h("td", {}, durationText(st.p99))))),
      ),
    ),
  );
  return section;
}
