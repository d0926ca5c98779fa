// The run form of an op, generated from its inputs and its config schema. Each
// control is keyed by the path the host uses in its errors ("inputs.a",
// "config.db.port"), so a refused start puts the host's own message at the field.
import type { ConfigField, ConfigType } from "./gen/ophost/v1/config_pb";
import type { InputSpec, OpDefinition } from "./gen/ophost/v1/op_pb";
import { ScalarKind, type TypeSpec } from "./gen/ophost/v1/type_pb";
import type { NamedValue, Value } from "./gen/ophost/v1/value_pb";
import type { Violation } from "./api";
import { h, uid } from "./dom";
import {
  boolValue,
  doubleValue,
  fromJsonText,
  intValue,
  mapValue,
  nullValue,
  parseInteger,
  parseNumber,
  stringValue,
  toPlain,
  valueText,
} from "./values";

/** A value the user typed that cannot be sent (JSON that does not parse). */
class FieldError extends Error {}

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

interface FieldView {
  path: string;
  wrapper: HTMLElement;
  control: Control | null;
  error: HTMLElement;
}

interface Leaf extends FieldView {
  control: Control;
  read(): Value | undefined;
  write(value: Value): void;
}

/** What the form sends: the op's inputs and config (config absent when none was given),
 * and the execution's tags. */
export interface StartValues {
  inputs: NamedValue[];
  config: Value | undefined;
  tags: Record<string, string>;
}

type ScalarLike = ScalarKind | "json" | "enum";

/** The run form of one op. */
export class RunForm {
  readonly element: HTMLFormElement;
  private readonly views = new Map<string, FieldView>();
  private readonly inputLeaves: Array<[string, Leaf]> = [];
  private readonly configRead: () => Value | undefined;
  private readonly tags: FieldView & { control: HTMLTextAreaElement };
  private readonly summary: HTMLElement;

  constructor(op: OpDefinition, onSubmit: (values: StartValues) => void, prefill?: StartValues) {
    this.summary = h("div", { class: "form-summary", role: "alert" });
    const inputs = h("fieldset", { class: "inputs" }, h("legend", {}, "Inputs"));
    const shown = op.inputs.filter((spec) => spec.type?.kind.case !== "nothingType");
    if (shown.length === 0) inputs.append(h("p", { class: "hint" }, "This op takes no inputs."));
    for (const spec of shown) {
      const leaf = this.inputLeaf(spec);
      this.inputLeaves.push([spec.name, leaf]);
      inputs.append(leaf.wrapper);
    }
    const config = h("fieldset", { class: "config" }, h("legend", {}, "Config"));
    this.configRead = this.configFields(op.config, "config", config);
    this.tags = this.tagsField();
    const run = h("button", { type: "submit", class: "primary" }, "Run");
    this.element = h(
      "form",
      { class: "run-form", novalidate: true, "aria-label": `Run ${op.name}` },
      inputs,
      config,
      this.tags.wrapper,
      this.summary,
      h("div", { class: "actions" }, run),
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.clearErrors();
      let values: StartValues;
      try {
        values = this.read();
      } catch {
        this.summary.append(h("p", {}, "Some fields cannot be sent; see the messages at the fields."));
        return;
      }
      onSubmit(values);
    });
    if (prefill) this.fill(prefill);
  }

  /** Disables the Run button while a start is under way. */
  busy(on: boolean): void {
    const button = this.element.querySelector<HTMLButtonElement>("button[type=submit]");
    if (button) {
      button.disabled = on;
      button.textContent = on ? "Starting…" : "Run";
    }
  }

  /** Shows the host's refusal: each violation at its field (or the nearest enclosing
   * one), and the message above the Run button. */
  showErrors(message: string, violations: readonly Violation[]): void {
    this.clearErrors();
    this.summary.append(h("p", {}, `The host refused to start the op: ${message}`));
    const list = h("ul", {});
    let first: Control | null = null;
    for (const violation of violations) {
      const view = this.viewFor(violation.field);
      if (view) {
        this.mark(view, violation.description);
        // A group's error (a config shape) puts the focus on its first field.
        first ??= view.control ?? view.wrapper.querySelector<Control>("input, select, textarea");
      }
      list.append(h("li", {}, h("code", {}, violation.field), `: ${violation.description}`));
    }
    if (violations.length > 0) this.summary.append(list);
    first?.focus();
  }

  clearErrors(): void {
    this.summary.replaceChildren();
    for (const view of this.views.values()) {
      view.error.replaceChildren();
      view.error.hidden = true;
      view.wrapper.classList.remove("invalid");
      view.control?.removeAttribute("aria-invalid");
    }
  }

  private read(): StartValues {
    let failed = false;
    const inputs: NamedValue[] = [];
    for (const [name, leaf] of this.inputLeaves) {
      try {
        const value = leaf.read();
        if (value !== undefined) inputs.push({ $typeName: "ophost.v1.NamedValue", name, value });
      } catch (error) {
        failed = true;
        this.mark(leaf, (error as Error).message);
      }
    }
    let config: Value | undefined;
    try {
      config = this.configRead();
    } catch {
      failed = true;
    }
    let tags: Record<string, string> = {};
    try {
      tags = this.readTags();
    } catch {
      failed = true;
    }
    if (failed) throw new FieldError("invalid fields");
    return { inputs, config, tags };
  }

  private fill(values: StartValues): void {
    for (const named of values.inputs) {
      const view = this.views.get(`inputs.${named.name}`);
      if (view && "write" in view && named.value) (view as Leaf).write(named.value);
    }
    if (values.config) this.fillConfig("config", values.config);
    this.tags.control.value = Object.entries(values.tags)
      .map(([key, value]) => `${key}=${value}`)
      .join("\n");
  }

  /** The tags field: one `key=value` per line, attached to the execution. */
  private tagsField(): FieldView & { control: HTMLTextAreaElement } {
    const id = uid("field");
    const control = h("textarea", {
      id,
      name: "tags",
      rows: 2,
      spellcheck: "false",
      "aria-describedby": `${id}-hint ${id}-error`,
      placeholder: "key=value, one per line",
    });
    const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
    const wrapper = h(
      "div",
      { class: "field", "data-path": "tags" },
      h("label", { for: id }, "tags"),
      control,
      h("p", { class: "hint", id: `${id}-hint` }, "optional · one key=value per line · attached to the execution"),
      error,
    );
    const view = { path: "tags", wrapper, control, error };
    this.views.set("tags", view);
    return view;
  }

  private readTags(): Record<string, string> {
    const tags = new Map<string, string>();
    const lines = this.tags.control.value.split("\n");
    for (const [index, line] of lines.entries()) {
      if (line.trim() === "") continue;
      const at = line.indexOf("=");
      const key = at < 0 ? "" : line.slice(0, at).trim();
      const problem = at < 0 ? "is not key=value" : key === "" ? "has no key" : tags.has(key) ? `repeats the key ${key}` : null;
      if (problem) {
        const message = `line ${index + 1} ${problem}`;
        this.mark(this.tags, message);
        throw new FieldError(message);
      }
      tags.set(key, line.slice(at + 1));
    }
    return Object.fromEntries(tags);
  }

  private fillConfig(path: string, value: Value): void {
    const view = this.views.get(path);
    if (view && "write" in view) {
      (view as Leaf).write(value);
      return;
    }
    if (value.kind.case === "mapValue") {
      for (const entry of value.kind.value.entries) {
        const key = toPlain(entry.key);
        if (typeof key === "string" && entry.value) this.fillConfig(`${path}.${key}`, entry.value);
      }
    }
  }

  private viewFor(field: string): FieldView | undefined {
    for (let path = field; path; path = path.slice(0, Math.max(0, path.lastIndexOf(".")))) {
      const view = this.views.get(path);
      if (view) return view;
      if (!path.includes(".")) break;
    }
    return undefined;
  }

  private mark(view: FieldView, message: string): void {
    view.error.append(h("span", {}, message));
    view.error.hidden = false;
    view.wrapper.classList.add("invalid");
    view.control?.setAttribute("aria-invalid", "true");
  }

  private inputLeaf(spec: InputSpec): Leaf {
    const type = spec.type;
    const optional = type?.kind.case === "optionalType";
    const inner = optional && type?.kind.case === "optionalType" ? type.kind.value.inner : type;
    const kind: ScalarLike = inner?.kind.case === "scalarType" ? inner.kind.value : "json";
    const hints = [
      typeName(type),
      spec.required ? "required" : spec.defaultValue ? `default ${valueText(spec.defaultValue)}` : "optional",
      spec.description ?? "",
    ];
    // A required Optional input left empty is sent as None.
    return this.leaf(`inputs.${spec.name}`, spec.name, kind, hints, {
      emptyAsNull: optional && spec.required,
      defaultValue: spec.defaultValue,
    });
  }

  /** Builds the controls of a config field into `parent`; returns how to read its value. */
  private configFields(field: ConfigField | undefined, path: string, parent: HTMLElement): () => Value | undefined {
    const type = field?.type;
    const fields = shapeFields(type);
    if (fields) {
      const error = h("p", { class: "field-error", hidden: true, id: uid("err") });
      parent.append(error);
      this.views.set(path, { path, wrapper: parent, control: null, error });
      if (fields.length === 0) parent.append(h("p", { class: "hint" }, "No config fields."));
      const readers: Array<[string, () => Value | undefined]> = [];
      for (const child of fields) {
        const childPath = `${path}.${child.name}`;
        if (shapeFields(unwrapNoneable(child.type))) {
          const set = h("fieldset", { class: "shape" }, h("legend", {}, childPath), fieldHints(child, describeConfig(child.type)));
          parent.append(set);
          readers.push([child.name, this.configFields({ ...child, type: unwrapNoneable(child.type) } as ConfigField, childPath, set)]);
        } else {
          const leaf = this.configLeaf(child, childPath);
          parent.append(leaf.wrapper);
          readers.push([child.name, () => leaf.read()]);
        }
      }
      return () => {
        const entries: Array<readonly [string, Value]> = [];
        let failed = false;
        for (const [name, read] of readers) {
          try {
            const value = read();
            if (value !== undefined) entries.push([name, value]);
          } catch {
            failed = true;
          }
        }
        if (failed) throw new FieldError("invalid config");
        // A required shape is sent even when empty, so that the host names the fields
        // missing inside it rather than the shape as a whole.
        return entries.length > 0 || field?.required ? mapValue(entries) : undefined;
      };
    }
    // No schema (any config), or a non-shape top level: one control for the whole value.
    const leaf = this.configLeaf(field, path);
    parent.append(leaf.wrapper);
    return () => leaf.read();
  }

  private configLeaf(field: ConfigField | undefined, path: string): Leaf {
    const type = unwrapNoneable(field?.type);
    let kind: ScalarLike = "json";
    let choices: string[] = [];
    if (type?.kind.case === "scalarType") kind = type.kind.value;
    else if (type?.kind.case === "enumType") {
      kind = "enum";
      choices = type.kind.value.values.map((v) => v.configValue);
    }
    const hints = field
      ? [
          describeConfig(field.type),
          field.required ? "required" : field.defaultValue ? `default ${valueText(field.defaultValue)}` : "optional",
          field.description ?? "",
        ]
      : ["any value, as JSON", "optional"];
    return this.leaf(path, path, kind, hints, { choices, defaultValue: field?.defaultValue });
  }

  private leaf(
    path: string,
    label: string,
    kind: ScalarLike,
    hints: string[],
    options: { emptyAsNull?: boolean; choices?: string[]; defaultValue?: Value | undefined },
  ): Leaf {
    const id = uid("field");
    const hintId = `${id}-hint`;
    const errorId = `${id}-error`;
    let control: Control;
    const describedBy = `${hintId} ${errorId}`;
    if (kind === ScalarKind.BOOL || kind === "enum") {
      const values = kind === "enum" ? (options.choices ?? []) : ["true", "false"];
      control = h(
        "select",
        { id, name: path, "aria-describedby": describedBy },
        h("option", { value: "" }, "(not set)"),
        values.map((v) => h("option", { value: v }, v)),
      );
    } else if (kind === "json") {
      control = h("textarea", { id, name: path, rows: 2, spellcheck: "false", "aria-describedby": describedBy, placeholder: "JSON, e.g. [1, 2] or {\"k\": 1}" });
    } else {
      control = h("input", {
        id,
        name: path,
        type: "text",
        autocomplete: "off",
        spellcheck: "false",
        inputmode: kind === ScalarKind.INT ? "numeric" : kind === ScalarKind.FLOAT ? "decimal" : null,
        "aria-describedby": describedBy,
        placeholder: options.defaultValue ? String(toPlain(options.defaultValue)) : null,
      });
    }
    const error = h("p", { class: "field-error", id: errorId, hidden: true });
    const wrapper = h(
      "div",
      { class: "field", "data-path": path },
      h("label", { for: id }, label),
      control,
      h("p", { class: "hint", id: hintId }, hints.filter(Boolean).join(" · ")),
      error,
    );
    const read = (): Value | undefined => {
      const text = control.value;
      if (text.trim() === "") return options.emptyAsNull ? nullValue() : undefined;
      switch (kind) {
        case ScalarKind.INT: {
          const n = parseInteger(text);
          return n === null ? stringValue(text) : intValue(n);
        }
        case ScalarKind.FLOAT: {
          const n = parseNumber(text);
          return n === null ? stringValue(text) : doubleValue(n);
        }
        case ScalarKind.BOOL:
          return boolValue(text === "true");
        case "json":
          try {
            return fromJsonText(text);
          } catch (error) {
            const message = `not valid JSON: ${(error as Error).message}`;
            this.mark(leaf, message);
            throw new FieldError(message);
          }
        default:
          return stringValue(text);
      }
    };
    const write = (value: Value): void => {
      const plain = toPlain(value);
      if (kind === "json") control.value = JSON.stringify(plain);
      else if (value.kind.case === "nullValue") control.value = "";
      else control.value = String(plain);
    };
    const leaf: Leaf = { path, wrapper, control, error, read, write };
    this.views.set(path, leaf);
    return leaf;
  }
}

function fieldHints(field: ConfigField, type: string): HTMLElement {
  const parts = [type, field.required ? "required" : field.defaultValue ? `default ${valueText(field.defaultValue)}` : "optional", field.description ?? ""];
  return h("p", { class: "hint" }, parts.filter(Boolean).join(" · "));
}

function shapeFields(type: ConfigType | undefined): ConfigField[] | null {
  const kind = type?.kind;
  if (kind?.case === "shapeType" || kind?.case === "permissiveType") return kind.value.fields;
  return null;
}

function unwrapNoneable(type: ConfigType | undefined): ConfigType | undefined {
  return type?.kind.case === "noneableType" ? type.kind.value.inner : type;
}

/** The name of an op input or output type. */
export function typeName(type: TypeSpec | undefined): string {
  return type?.displayName || "Any";
}

/** A short name of a config type: Int, [String], {a, b}, Int?, Enum(RED|BLUE). */
export function describeConfig(type: ConfigType | undefined): string {
  const kind = type?.kind;
  switch (kind?.case) {
    case undefined:
    case "anyType":
      return "Any";
    case "scalarType":
      return SCALARS[kind.value] ?? "Any";
    case "shapeType":
      return `Shape{${kind.value.fields.map((f) => f.name).join(", ")}}`;
    case "permissiveType":
      return `Permissive{${kind.value.fields.map((f) => f.name).join(", ")}}`;
    case "selectorType":
      return `Selector{${kind.value.fields.map((f) => f.name).join(" | ")}} (JSON with one key)`;
    case "arrayType":
      return `[${describeConfig(kind.value.element)}]`;
    case "noneableType":
      return `${describeConfig(kind.value.inner)}?`;
    case "enumType":
      return `${kind.value.name}(${kind.value.values.map((v) => v.configValue).join(" | ")})`;
    case "mapType": {
      const key = SCALARS[kind.value.keyType] ?? "Any";
      return `Map{${kind.value.keyLabelName ? `${kind.value.keyLabelName}: ` : ""}${key} → ${describeConfig(kind.value.valueType)}} (JSON object)`;
    }
  }
}

const SCALARS: Partial<Record<ScalarKind, string>> = {
  [ScalarKind.INT]: "Int",
  [ScalarKind.FLOAT]: "Float",
  [ScalarKind.STRING]: "String",
  [ScalarKind.BOOL]: "Bool",
};
