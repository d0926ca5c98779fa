// Renders metadata entries: tables as tables, markdown as markdown (HTML in it is
// shown as text, never run), URLs as links, JSON folded, the rest as text.
import { micromark } from "micromark";
import type { MetadataEntry, MetadataValue, TableMetadataValue, TableSchema } from "./gen/ophost/v1/metadata_pb";
import { h } from "./dom";
import { toPlain, valueText } from "./values";

/** A description list of the entries, or nothing when there are none. */
export function metadataList(entries: readonly MetadataEntry[]): HTMLElement | null {
  if (entries.length === 0) return null;
  const list = h("dl", { class: "metadata" });
  for (const entry of entries) {
    list.append(
      h("dt", {}, entry.label, entry.description ? h("span", { class: "hint" }, ` — ${entry.description}`) : null),
      h("dd", {}, metadataValue(entry.value)),
    );
  }
  return list;
}

/** One metadata value as a node. */
export function metadataValue(value: MetadataValue | undefined): Node {
  const kind = value?.kind;
  switch (kind?.case) {
    case undefined:
    case "nullValue":
      return h("span", { class: "null" }, "None");
    case "text":
      return h("span", { class: "text" }, kind.value);
    case "url":
      return link(kind.value);
    case "path":
      return h("code", {}, kind.value);
    case "json": {
      const text = JSON.stringify(toPlain(kind.value), null, 2);
      return h("details", { class: "json" }, h("summary", {}, `JSON: ${valueText(kind.value).slice(0, 60)}`), h("pre", {}, text));
    }
    case "markdown":
      return markdown(kind.value);
    case "pythonArtifact":
      return h("code", {}, `${kind.value.module}.${kind.value.name}`);
    case "floatValue":
      return h("span", { class: "number" }, kind.value.value === undefined ? "None" : String(kind.value.value));
    case "intValue":
      return h("span", { class: "number" }, kind.value.value.case === undefined ? "None" : String(kind.value.value.value));
    case "boolValue":
      return h("span", {}, kind.value.value === undefined ? "None" : kind.value.value ? "True" : "False");
    case "runId":
      return h("code", {}, kind.value);
    case "asset":
      return h("code", { class: "asset" }, kind.value.path.join(" / "));
    case "table":
      return table(kind.value);
    case "tableSchema":
      return schemaTable(kind.value);
  }
}

/** A link when the URL is http(s) or relative; other schemes are shown as text. */
function link(url: string): Node {
  let safe = false;
  try {
    const parsed = new URL(url, window.location.href);
    safe = parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    safe = false;
  }
  if (!safe) return h("code", {}, url);
  return h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" }, url);
}

/** Markdown rendered by micromark with its safe defaults: raw HTML is escaped and
 * links with dangerous protocols (javascript:, data:...) lose their href. */
function markdown(text: string): Node {
  // Parsed into an inert template first, so nothing in it loads before it is checked.
  const template = document.createElement("template");
  template.innerHTML = micromark(text);
  const content = template.content;
  for (const anchor of content.querySelectorAll("a")) anchor.setAttribute("rel", "noopener noreferrer nofollow");
  // Images would load from wherever the markdown says: show their text instead.
  for (const image of content.querySelectorAll("img")) image.replaceWith(h("span", { class: "hint" }, `[image: ${image.alt}]`));
  const block = h("div", { class: "markdown" });
  block.append(content);
  return block;
}

function table(value: TableMetadataValue): Node {
  const columns = value.schema?.columns.map((c) => c.name) ?? [];
  const head = h("tr", {}, columns.map((name) => h("th", { scope: "col" }, name)));
  const rows = value.records.map((record) => {
    const cells = new Map(record.fields.map((f) => [f.name, valueText(f.value)] as const));
    return h("tr", {}, columns.map((name) => h("td", {}, unquote(cells.get(name) ?? ""))));
  });
  return h("table", { class: "data" }, h("thead", {}, head), h("tbody", {}, rows));
}

function schemaTable(schema: TableSchema): Node {
  return h(
    "table",
    { class: "data" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "column"), h("th", { scope: "col" }, "type"), h("th", { scope: "col" }, "constraints"))),
    h(
      "tbody",
      {},
      schema.columns.map((column) => {
        const c = column.constraints;
        const notes = [c?.nullable === false ? "not null" : "", c?.unique ? "unique" : "", ...(c?.other ?? [])].filter(Boolean);
        return h("tr", {}, h("td", {}, column.name), h("td", {}, column.type), h("td", {}, notes.join(", ")));
      }),
    ),
  );
}

function unquote(text: string): string {
  return text.startsWith('"') && text.endsWith('"') ? (JSON.parse(text) as string) : text;
}
