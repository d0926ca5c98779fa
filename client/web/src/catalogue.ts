// The op catalogue: every hosted op with a search box, and one op in full with its
// run form.
import { create } from "@bufbuild/protobuf";
import { ExecutionStartSchema, type ExecutionStart } from "./gen/ophost/v1/execution_pb";
import { Backoff, Jitter, type OpDefinition, type RetryPolicy } from "./gen/ophost/v1/op_pb";
import { OpView } from "./gen/ophost/v1/op_host_service_pb";
import type { ConfigField } from "./gen/ophost/v1/config_pb";
import { callError, host, isAbort, needsToken } from "./api";
import { append, h, replace, uid } from "./dom";
import { describeConfig, RunForm, typeName, type StartValues } from "./form";
import { metadataList } from "./metadata";
import { errorBox, heading, showFailure } from "./shell";
import { chunkedPaths, readExecution } from "./starts";
import { valueText } from "./values";

/** Every op of the host, a page at a time. */
export async function allOps(signal: AbortSignal, view = OpView.FULL): Promise<OpDefinition[]> {
  const ops: OpDefinition[] = [];
  let pageToken = "";
  do {
    const page = await host.listOps({ pageSize: 500, pageToken, view }, { signal });
    ops.push(...page.ops);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ops;
}

export function catalogueView(query: URLSearchParams) {
  return async (root: HTMLElement, signal: AbortSignal): Promise<void> => {
    heading(root, "Ops");
    let ops: OpDefinition[];
    try {
      ops = await allOps(signal);
    } catch (error) {
      showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), "Listing the ops failed");
      return;
    }
    const searchId = uid("search");
    const search = h("input", { id: searchId, type: "search", name: "q", value: query.get("q") ?? "", autocomplete: "off" });
    const count = h("p", { class: "hint", role: "status" });
    const list = h("ul", { class: "op-list" });
    const render = () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      const shown = ops.filter((op) => words.every((w) => searchText(op).includes(w)));
      replace(list, shown.map(opCard));
      count.textContent = `${shown.length} of ${ops.length} ops`;
    };
    search.addEventListener("input", render);
    root.append(
      h("div", { class: "field search" }, h("label", { for: searchId }, "Search ops (name, description, tags, inputs)"), search),
      count,
      list,
    );
    render();
  };
}

function searchText(op: OpDefinition): string {
  return [
    op.name,
    op.description ?? "",
    ...Object.entries(op.tags).flat(),
    ...op.inputs.map((i) => i.name),
    ...op.outputs.map((o) => o.name),
  ]
    .join(" ")
    .toLowerCase();
}

function opCard(op: OpDefinition): HTMLElement {
  const ins = op.inputs.map((i) => `${i.name}: ${typeName(i.type)}`).join(", ");
  const outs = op.outputs.map((o) => `${o.name}: ${typeName(o.type)}`).join(", ");
  return h(
    "li",
    { class: "op-card" },
    h("h2", {}, h("a", { href: `#/ops/${encodeURIComponent(op.name)}` }, op.name)),
    op.description ? h("p", {}, firstLine(op.description)) : null,
    h("p", { class: "signature" }, h("code", {}, `(${ins}) → ${outs || "nothing"}`)),
    tagList(op.tags),
  );
}

function firstLine(text: string): string {
  return text.trim().split(/\n\s*\n/)[0] ?? "";
}

function tagList(tags: Record<string, string>): HTMLElement | null {
  const entries = Object.entries(tags);
  if (entries.length === 0) return null;
  return h("ul", { class: "tags", "aria-label": "tags" }, entries.map(([k, v]) => h("li", {}, `${k}=${v}`)));
}

export function opView(name: string, query: URLSearchParams) {
  return async (root: HTMLElement, signal: AbortSignal): Promise<void> => {
    const title = heading(root, name);
    let op: OpDefinition;
    try {
      const response = await host.getOp({ opName: name }, { signal });
      if (!response.op) throw new Error("the host returned no op");
      op = response.op;
    } catch (error) {
      showFailure(root, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")), `Reading op ${name} failed`);
      return;
    }
    const from = query.get("from");
    const source = from ? await startFrom(from, op.name, signal) : null;
    if (signal.aborted) return;
    title.focus();
    append(root, [
      op.description ? h("p", { class: "description" }, op.description) : null,
      h("p", {}, h("a", { href: `#/executions?op=${encodeURIComponent(op.name)}` }, `Executions of ${op.name}`)),
      h("section", { "aria-labelledby": "run-heading" }, h("h2", { id: "run-heading" }, "Run"), runForm(op, source)),
      definition(op),
    ]);
  };
}

/** What the run form is filled in with when it opens from an execution (`?from=ID`): that
 * execution's start as the host returns it, or a note saying why the form is empty. */
interface Source {
  id: string;
  start: ExecutionStart | null;
  note: HTMLElement | null;
}

async function startFrom(id: string, opName: string, signal: AbortSignal): Promise<Source> {
  try {
    const { execution, start } = await readExecution(id, signal);
    if (execution.opName !== opName) {
      return { id, start: null, note: h("p", { class: "notice" }, `Execution ${id} ran ${execution.opName}, not ${opName}; the form is empty.`) };
    }
    if (!start) {
      return { id, start: null, note: h("p", { class: "notice" }, `The host did not return the inputs of execution ${id}; the form is empty.`) };
    }
    return { id, start, note: null };
  } catch (error) {
    if (isAbort(error) && signal.aborted) return { id, start: null, note: null };
    return { id, start: null, note: errorBox(error, `Reading the inputs of execution ${id} failed; the form is empty`) };
  }
}

function runForm(op: OpDefinition, source: Source | null): HTMLElement {
  const prefill = source?.start ?? null;
  // A value uploaded in chunks comes back without its data: that field is left empty.
  const chunked = new Set(prefill ? chunkedPaths(prefill) : []);
  const form: RunForm = new RunForm(
    op,
    (values: StartValues) => {
      form.busy(true);
      const start = create(ExecutionStartSchema, {
        opName: op.name,
        inputs: values.inputs,
        config: values.config,
        tags: values.tags,
        requestId: crypto.randomUUID(),
      });
      host
        .startExecution({ start })
        .then((response) => {
          const execution = response.execution;
          if (!execution) throw new Error("the host returned no execution");
          window.location.hash = `#/executions/${encodeURIComponent(execution.id)}`;
        })
        .catch((error: unknown) => {
          form.busy(false);
          const e = callError(error);
          if (needsToken(error)) {
            showFailure(form.element.parentElement ?? document.body, error, () => window.dispatchEvent(new HashChangeEvent("hashchange")));
            return;
          }
          form.showErrors(`${e.codeName}${e.reason ? ` (${e.reason})` : ""}: ${e.message}`, e.violations);
        });
    },
    prefill
      ? {
          inputs: prefill.inputs.filter((named) => !chunked.has(`inputs.${named.name}`)),
          config: chunked.has("config") ? undefined : prefill.config,
          tags: prefill.tags,
        }
      : undefined,
  );
  if (source?.note) form.element.prepend(source.note);
  if (prefill) {
    const left = [...chunked];
    form.element.prepend(
      h(
        "p",
        { class: "notice" },
        `Filled in with the inputs, config and tags of execution ${source?.id ?? ""}.`,
        left.length
          ? ` Left empty: ${left.join(", ")}, uploaded in chunks; the host does not return uploaded data, so give ${left.length === 1 ? "it" : "them"} again.`
          : "",
      ),
    );
  }
  return form.element;
}

function definition(op: OpDefinition): HTMLElement {
  const section = h("section", { "aria-labelledby": "def-heading" }, h("h2", { id: "def-heading" }, "Definition"));
  append(section, [
    h("h3", {}, "Inputs"),
    op.inputs.length === 0
      ? h("p", { class: "hint" }, "None.")
      : table(
          ["name", "type", "required / default", "description"],
          op.inputs.map((i) => [
            h("code", {}, i.name),
            typeName(i.type),
            i.required ? "required" : i.defaultValue ? `default ${valueText(i.defaultValue)}` : "optional",
            h("div", {}, i.description ?? "", metadataList(i.metadata)),
          ]),
        ),
    h("h3", {}, "Outputs"),
    op.outputs.length === 0
      ? h("p", { class: "hint" }, "None.")
      : table(
          ["name", "type", "required", "description"],
          op.outputs.map((o) => [h("code", {}, o.name), typeName(o.type), o.required ? "yes" : "no", h("div", {}, o.description ?? "", metadataList(o.metadata))]),
        ),
    h("h3", {}, "Config schema"),
    configTable(op.config),
    h("h3", {}, "Retry policy"),
    h("p", {}, retryText(op.retryPolicy)),
    h("h3", {}, "Tags"),
    Object.keys(op.tags).length === 0 ? h("p", { class: "hint" }, "None.") : tagList(op.tags),
    op.requiredResourceKeys.length > 0 ? h("p", {}, `Resources: ${op.requiredResourceKeys.join(", ")}`) : null,
    op.codeVersion ? h("p", {}, `Code version: ${op.codeVersion}`) : null,
  ]);
  return section;
}

function configTable(config: ConfigField | undefined): HTMLElement {
  const rows: Array<Array<Node | string>> = [];
  const walk = (field: ConfigField, path: string) => {
    rows.push([
      h("code", {}, path),
      describeConfig(field.type),
      field.required ? "required" : field.defaultValue ? `default ${valueText(field.defaultValue)}` : "optional",
      field.description ?? "",
    ]);
    let type = field.type;
    if (type?.kind.case === "noneableType") type = type.kind.value.inner;
    const kind = type?.kind;
    if (kind?.case === "shapeType" || kind?.case === "permissiveType" || kind?.case === "selectorType") {
      for (const child of kind.value.fields) walk(child, `${path}.${child.name}`);
    }
  };
  if (config) walk(config, "config");
  return table(["path", "type", "required / default", "description"], rows);
}

/** The retry policy in words. */
export function retryText(policy: RetryPolicy | undefined): string {
  if (!policy) return "Not retried: the first failure is final.";
  const delay = policy.delaySeconds;
  const backoff = policy.backoff === Backoff.LINEAR ? ", growing linearly" : policy.backoff === Backoff.EXPONENTIAL ? ", growing exponentially" : "";
  const jitter = policy.jitter === Jitter.FULL ? ", with full jitter" : policy.jitter === Jitter.PLUS_MINUS ? ", with plus-minus jitter" : "";
  const wait = delay === undefined ? "no delay" : `a delay of ${delay} s${backoff}${jitter}`;
  return `Up to ${policy.maxRetries} retries after the first attempt, with ${wait}.`;
}

function table(head: string[], rows: ReadonlyArray<ReadonlyArray<Node | string>>): HTMLElement {
  return h(
    "table",
    { class: "data" },
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((c) => h("td", {}, c))))),
  );
}
