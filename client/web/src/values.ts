// Between the protocol's dynamically typed `Value` and what the console shows and
// reads: plain JSON-like data for display, and values built from what a user typed.
import { create } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "./gen/ophost/v1/value_pb";

/** A JSON-like view of a value, for display (tuples and sets become lists). */
export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The value as JSON-like data; bytes and chunked values become descriptions. */
export function toPlain(value: Value | undefined): Plain {
  const kind = value?.kind;
  switch (kind?.case) {
    case undefined:
    case "nullValue":
      return null;
    case "boolValue":
    case "stringValue":
      return kind.value;
    case "doubleValue":
      return Number.isFinite(kind.value) ? kind.value : String(kind.value);
    case "intValue": {
      const n = kind.value;
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
    }
    case "bigIntValue":
      return kind.value;
    case "bytesValue":
      return `<${kind.value.length} bytes>`;
    case "listValue":
    case "tupleValue":
    case "setValue":
      return kind.value.values.map(toPlain);
    case "mapValue": {
      const out: { [key: string]: Plain } = {};
      for (const entry of kind.value.entries) {
        const key = toPlain(entry.key);
        out[typeof key === "string" ? key : JSON.stringify(key)] = toPlain(entry.value);
      }
      return out;
    }
    case "chunkedValue":
      return `<large value: ${kind.value.totalSizeBytes} bytes in ${kind.value.chunkCount} chunks>`;
  }
}

/** A one-line text of the value: scalars as they are, the rest as JSON. */
export function valueText(value: Value | undefined): string {
  const kind = value?.kind;
  if (kind?.case === "stringValue") return JSON.stringify(kind.value);
  const plain = toPlain(value);
  return typeof plain === "object" && plain !== null ? JSON.stringify(plain) : String(plain);
}

/** Whether the value is a list or map worth folding away. */
export function isComposite(value: Value | undefined): boolean {
  const c = value?.kind.case;
  return c === "listValue" || c === "tupleValue" || c === "setValue" || c === "mapValue";
}

/** An integer value: `int_value` when it fits in 64 bits, `big_int_value` otherwise. */
export function intValue(n: bigint): Value {
  if (n >= INT64_MIN && n <= INT64_MAX) return create(ValueSchema, { kind: { case: "intValue", value: n } });
  return create(ValueSchema, { kind: { case: "bigIntValue", value: n.toString() } });
}

export function doubleValue(n: number): Value {
  return create(ValueSchema, { kind: { case: "doubleValue", value: n } });
}

export function stringValue(text: string): Value {
  return create(ValueSchema, { kind: { case: "stringValue", value: text } });
}

export function boolValue(b: boolean): Value {
  return create(ValueSchema, { kind: { case: "boolValue", value: b } });
}

export function nullValue(): Value {
  return create(ValueSchema, { kind: { case: "nullValue", value: {} } });
}

/** A map value with string keys. */
export function mapValue(entries: ReadonlyArray<readonly [string, Value]>): Value {
  return create(ValueSchema, {
    kind: {
      case: "mapValue",
      value: { entries: entries.map(([key, value]) => ({ key: stringValue(key), value })) },
    },
  });
}

const INTEGER = /^-?\d+$/;

/** Parses JSON text into a value: integers stay integers (of any size), other numbers
 * become doubles, objects become maps with string keys. Throws SyntaxError. */
export function fromJsonText(text: string): Value {
  // Integers are read from the text, not from JSON.parse's doubles, to keep them exact.
  const parsed: unknown = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value === "number" && context?.source !== undefined && INTEGER.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
  return fromUnknown(parsed);
}

function fromUnknown(data: unknown): Value {
  if (data === null) return nullValue();
  if (typeof data === "boolean") return boolValue(data);
  if (typeof data === "bigint") return intValue(data);
  if (typeof data === "number") return Number.isInteger(data) ? intValue(BigInt(data)) : doubleValue(data);
  if (typeof data === "string") return stringValue(data);
  if (Array.isArray(data)) {
    return create(ValueSchema, { kind: { case: "listValue", value: { values: data.map(fromUnknown) } } });
  }
  return mapValue(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, fromUnknown(v)] as const));
}

/** Parses an integer as typed; null when the text is not one. */
export function parseInteger(text: string): bigint | null {
  const trimmed = text.trim();
  return INTEGER.test(trimmed) ? BigInt(trimmed) : null;
}

/** Parses a number as typed; null when the text is not one. */
export function parseNumber(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const n = Number(trimmed);
  return Number.isNaN(n) && trimmed !== "NaN" ? null : n;
}
