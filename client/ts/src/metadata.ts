/**
 * Metadata entries (docs/protocol.md, section 9) as plain TS values.
 *
 * @module
 */

import type {
  MetadataEntry as MetadataEntryMessage,
  MetadataValue as MetadataValueMessage,
  TableSchema as TableSchemaMessage,
} from "./gen/ophost/v1/metadata_pb.js";
import { fromValue, type OpValue, parseBigInt } from "./values.js";

/** A table column's declared shape. */
export interface TableColumn {
  readonly name: string;
  readonly type: string;
  readonly description: string | undefined;
  /** Absent on the wire means Dagster's defaults: nullable, not unique, no others. */
  readonly constraints: { readonly nullable: boolean; readonly unique: boolean; readonly other: readonly string[] };
}

/** A table's schema: its columns in order and its table-wide constraints. */
export interface TableSchema {
  readonly columns: readonly TableColumn[];
  readonly constraints: readonly string[];
}

/**
 * A metadata value. `kind` is the name of the `MetadataValue` arm that is set, in the
 * .proto's spelling (`text`, `int_value`, `json`, `table`, ...); `unknown` stands for
 * an arm this client does not know (a newer server), shown as opaque.
 */
export type MetadataValue =
  | { readonly kind: "text" | "url" | "path" | "markdown" | "run_id"; readonly value: string }
  | { readonly kind: "json"; readonly value: OpValue }
  | { readonly kind: "python_artifact"; readonly module: string; readonly name: string }
  | { readonly kind: "float_value"; readonly value: number | null }
  | { readonly kind: "int_value"; readonly value: bigint | null }
  | { readonly kind: "bool_value"; readonly value: boolean | null }
  | { readonly kind: "null_value"; readonly value: null }
  | { readonly kind: "asset"; readonly path: readonly string[] }
  | {
      readonly kind: "table";
      /** Each record's cells by column name, in order. */
      readonly records: readonly ReadonlyMap<string, OpValue>[];
      readonly schema: TableSchema | undefined;
    }
  | { readonly kind: "table_schema"; readonly schema: TableSchema }
  | { readonly kind: "unknown" };

/** One labelled metadata entry. */
export interface MetadataEntry {
  readonly label: string;
  readonly description: string | undefined;
  readonly value: MetadataValue;
}

/** Decode a list of metadata entries, keeping their order. */
export function decodeMetadata(entries: readonly MetadataEntryMessage[], path = "metadata"): MetadataEntry[] {
  return entries.map((entry) => ({
    label: entry.label,
    description: entry.description,
    value: decodeMetadataValue(entry.value, `${path}.${entry.label}`),
  }));
}

function decodeMetadataValue(message: MetadataValueMessage | undefined, path: string): MetadataValue {
  const kind = message?.kind;
  switch (kind?.case) {
    case "text":
    case "url":
    case "path":
    case "markdown":
      return { kind: kind.case, value: kind.value };
    case "runId":
      return { kind: "run_id", value: kind.value };
    case "json":
      return { kind: "json", value: fromValue(kind.value, path) };
    case "pythonArtifact":
      return { kind: "python_artifact", module: kind.value.module, name: kind.value.name };
    case "floatValue":
      return { kind: "float_value", value: kind.value.value ?? null };
    case "intValue": {
      const inner = kind.value.value;
      const value =
        inner.case === "intValue" ? inner.value : inner.case === "bigIntValue" ? parseBigInt(inner.value, path) : null;
      return { kind: "int_value", value };
    }
    case "boolValue":
      return { kind: "bool_value", value: kind.value.value ?? null };
    case "nullValue":
      return { kind: "null_value", value: null };
    case "asset":
      return { kind: "asset", path: [...kind.value.path] };
    case "table":
      return {
        kind: "table",
        records: kind.value.records.map(
          (record, row) =>
            new Map(
              record.fields.map((cell) => [
                cell.name,
                cell.value === undefined ? null : fromValue(cell.value, `${path}[${row}].${cell.name}`),
              ]),
            ),
        ),
        schema: kind.value.schema === undefined ? undefined : decodeSchema(kind.value.schema),
      };
    case "tableSchema":
      return { kind: "table_schema", schema: decodeSchema(kind.value) };
    case undefined:
      return { kind: "unknown" };
  }
}

function decodeSchema(schema: TableSchemaMessage): TableSchema {
  return {
    columns: schema.columns.map((column) => ({
      name: column.name,
      type: column.type,
      description: column.description,
      constraints: {
        nullable: column.constraints?.nullable ?? true,
        unique: column.constraints?.unique ?? false,
        other: [...(column.constraints?.other ?? [])],
      },
    })),
    constraints: [...(schema.constraints?.other ?? [])],
  };
}
