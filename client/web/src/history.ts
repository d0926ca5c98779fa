// Execution history from the host's store: filter by op, state and creation time,
// a page at a time, newest first.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Execution, ExecutionState } from "./gen/ophost/v1/execution_pb";
import { OpView, type ListExecutionsRequest } from "./gen/ophost/v1/op_host_service_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListExecutionsRequestSchema } from "./gen/ophost/v1/op_host_service_pb";
import { host } from "./api";
import { allOps } from "./catalogue";
import { h, replace, uid } from "./dom";
import { durationText, runSeconds, STATES, stateClass, stateWord, timeText } from "./format";
import { heading, showFailure } from "./shell";

/** The filters of a history query, as they appear in the page's address. */
export interface Filters {
  op: string;
  states: ExecutionState[];
  after: string; // datetime-local text, local time
  before: string;
  pageSize: number;
}

const PAGE_SIZES = [10, 25, 50, 100];

/** The page size asked for in the address (1 to 500), or 25. */
function pageSize(text: string | null): number {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : 25;
}

export function filtersFrom(query: URLSearchParams): Filters {
  return {
    op: query.get("op") ?? "",
    states: query.getAll("state").map(Number).filter((n) => STATES.includes(n as ExecutionState)) as ExecutionState[],
    after: query.get("after") ?? "",
    before: query.get("before") ?? "",
    pageSize: pageSize(query.get("size")),
  };
}

/** The request of one page for these filters. */
export function requestFor(filters: Filters, pageToken = "", pageSize = filters.pageSize): MessageInitShape<typeof ListExecutionsRequestSchema> {
  const request: Partial<ListExecutionsRequest> = { pageSize, pageToken, opName: filters.op, states: filters.states };
  const after = filters.after ? new Date(filters.after) : null;
  const before = filters.before ? new Date(filters.before) : null;
  if (after && !Number.isNaN(after.getTime())) request.createdAfter = timestampFromDate(after);
  if (before && !Number.isNaN(before.getTime())) request.createdBefore = timestampFromDate(before);
  return request as MessageInitShape<typeof ListExecutionsRequestSchema>;
}

export function historyView(query: URLSearchParams) {
  return async (root: HTMLElement, signal: AbortSignal): Promise<void> => {
    heading(root, "Executions");
    const filters = filtersFrom(query);
    let names: string[] = [];
    try {
      names = (await allOps(signal, OpView.BASIC)).map((op) => op.name);
    } catch (error) {
      showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), "Listing the ops failed");
      return;
    }
    root.append(filterForm(filters, names, "#/executions", "Filter"));
    const status = h("p", { class: "hint", role: "status" });
    const body = h("tbody", {});
    const pager = h("div", { class: "actions pager" });
    root.append(
      status,
      h(
        "table",
        { class: "data executions" },
        h("caption", {}, "Executions, newest first"),
        h("thead", {}, h("tr", {}, ["Execution", "Op", "State", "Created", "Ran for", "Attempts"].map((c) => h("th", { scope: "col" }, c)))),
        body,
      ),
      pager,
    );
    // Tokens of the pages before the current one, for "Previous page".
    const tokens: string[] = [];
    let current = "";
    const load = async (token: string): Promise<void> => {
      status.textContent = "Loading…";
      try {
        const page = await host.listExecutions(requestFor(filters, token), { signal });
        current = token;
        replace(body, page.executions.map(row));
        const pageNumber = tokens.length + 1;
        status.textContent = page.executions.length === 0 ? "No executions match." : `Page ${pageNumber}: ${page.executions.length} executions.`;
        const previous = h("button", { type: "button", disabled: tokens.length === 0 }, "Previous page");
        const next = h("button", { type: "button", disabled: !page.nextPageToken }, "Next page");
        previous.addEventListener("click", () => void load(tokens.pop() ?? ""));
        next.addEventListener("click", () => {
          tokens.push(current);
          void load(page.nextPageToken);
        });
        replace(pager, previous, next);
      } catch (error) {
        status.textContent = "";
        showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), "Listing the executions failed");
      }
    };
    await load("");
  };
}

function row(execution: Execution): HTMLElement {
  const run = runSeconds(execution);
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `#/executions/${encodeURIComponent(execution.id)}` }, h("code", {}, execution.id))),
    h("td", {}, execution.opName),
    h("td", {}, h("span", { class: stateClass(execution.state) }, stateWord(execution.state))),
    h("td", {}, timeText(execution.createTime)),
    h("td", {}, run === null ? "—" : durationText(run)),
    h("td", {}, String(execution.attempt + 1)),
  );
}

/** The filter form; submitting it moves to `base` with the filters in the address. */
export function filterForm(filters: Filters, names: readonly string[], base: string, button: string, history = true): HTMLElement {
  const opId = uid("op");
  const sizeId = uid("size");
  const size = h("select", { id: sizeId, name: "size" }, [...new Set([...PAGE_SIZES, filters.pageSize])].sort((a, b) => a - b).map((n) => h("option", { value: String(n), selected: n === filters.pageSize }, String(n))));
  const afterId = uid("after");
  const beforeId = uid("before");
  const op = h("select", { id: opId, name: "op" }, h("option", { value: "" }, "every op"), names.map((n) => h("option", { value: n, selected: n === filters.op }, n)));
  const after = h("input", { id: afterId, name: "after", type: "datetime-local", step: 1, value: filters.after });
  const before = h("input", { id: beforeId, name: "before", type: "datetime-local", step: 1, value: filters.before });
  const stateBoxes = STATES.map((state) => {
    const id = uid("state");
    return h(
      "span",
      { class: "checkbox" },
      h("input", { id, type: "checkbox", name: "state", value: String(state), checked: filters.states.includes(state) }),
      h("label", { for: id }, stateWord(state)),
    );
  });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filters" },
    h("div", { class: "field" }, h("label", { for: opId }, "Op"), op),
    history ? h("fieldset", { class: "states" }, h("legend", {}, "States (none ticked: every state)"), stateBoxes) : null,
    h("div", { class: "field" }, h("label", { for: afterId }, "Created after"), after),
    h("div", { class: "field" }, h("label", { for: beforeId }, "Created before"), before),
    history ? h("div", { class: "field" }, h("label", { for: sizeId }, "Executions per page"), size) : null,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, button)),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    const data = new FormData(form);
    for (const [key, value] of data.entries()) if (typeof value === "string" && value !== "") params.append(key, value);
    const text = params.toString();
    const target = `${base}${text ? `?${text}` : ""}`;
    if (window.location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else window.location.hash = target;
  });
  return form;
}
