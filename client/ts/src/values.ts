/**
 * JS values <-> `ophost.v1.Value` (docs/protocol.md, section 4).
 *
 * Encoding (JS → wire):
 *
 * | JS | wire |
 * | --- | --- |
 * | `null`, `undefined` | `null_value` |
 * | `boolean` | `bool_value` |
 * | `bigint` | `int_value` within the signed 64-bit range, else `big_int_value` |
 * | `number` | `double_value`, always: `2` travels as the float `2.0` (use `2n` for an int); NaN, ±Infinity and -0 are kept |
 * | `string` | `string_value` (a lone surrogate is a conversion error) |
 * | `Uint8Array` (and `Buffer`) | `bytes_value` |
 * | `Array` | `list_value` |
 * | {@link Tuple} | `tuple_value` |
 * | {@link PySet} | `set_value` |
 * | `Map` (keys of any kind, in order) and plain objects (string keys) | `map_value` |
 *
 * Anything else (functions, symbols, class instances, cycles, containers nested more
 * than {@link MAX_DEPTH} levels) throws a {@link ValueConversionError} naming the path.
 *
 * Decoding (wire → JS): both integer arms give `bigint`, `double_value` a `number`,
 * bytes a `Uint8Array`, lists an `Array`, tuples a {@link Tuple}, sets a {@link PySet}
 * and maps a `Map` (keys of any kind, in wire order; a repeated key keeps the last
 * value).
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { ValueConversionError } from "./client-error.js";
import { type Value, ValueSchema } from "./gen/ophost/v1/value_pb.js";

/** The deepest nesting of containers the protocol guarantees a peer can parse. */
export const MAX_DEPTH = 30;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A Python `tuple`: an ordered, fixed sequence that travels as `tuple_value`. */
export class Tuple<T = unknown> implements Iterable<T> {
  /** The elements, in order. */
  readonly items: readonly T[];

  constructor(items: Iterable<T> = []) {
    this.items = Object.freeze([...items]);
  }

  /** The number of elements. */
  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.items[Symbol.iterator]();
  }
}

/**
 * A Python `set`: an unordered collection that travels as `set_value`.
 *
 * The elements are kept as a list in the order given (or received) because JS `Set`
 * compares objects by identity, which would keep two equal tuples apart. The server
 * removes duplicates; order carries no meaning.
 */
export class PySet<T = unknown> implements Iterable<T> {
  /** The elements, in the order given or received. */
  readonly items: readonly T[];

  constructor(items: Iterable<T> = []) {
    this.items = Object.freeze([...items]);
  }

  /** The number of elements held (the server keeps one of any duplicates). */
  get size(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.items[Symbol.iterator]();
  }
}

/** What {@link fromValue} returns: every value kind the wire can carry. */
export type OpValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | OpValue[]
  | Tuple<OpValue>
  | PySet<OpValue>
  | Map<OpValue, OpValue>;

/**
 * Encode a JS value as a `Value`.
 *
 * @param path - names the value in error messages (`inputs.rows`, `config`).
 * @throws {@link ValueConversionError} for a value with no wire form, naming the path
 *   of the offending part (`inputs.rows[2].x`).
 */
export function toValue(value: unknown, path = "value"): Value {
  return encode(value, path, 0, []);
}

function encode(value: unknown, path: string, depth: number, ancestors: object[]): Value {
  switch (typeof value) {
    case "undefined":
      return create(ValueSchema, { kind: { case: "nullValue", value: {} } });
    case "boolean":
      return create(ValueSchema, { kind: { case: "boolValue", value } });
    case "bigint":
      return value >= INT64_MIN && value <= INT64_MAX
        ? create(ValueSchema, { kind: { case: "intValue", value } })
        : create(ValueSchema, { kind: { case: "bigIntValue", value: value.toString(10) } });
    case "number":
      return create(ValueSchema, { kind: { case: "doubleValue", value } });
    case "string":
      if (LONE_SURROGATE.test(value)) {
        throw new ValueConversionError(path, "the string is not valid Unicode (it holds a lone surrogate)");
      }
      return create(ValueSchema, { kind: { case: "stringValue", value } });
    case "function":
      throw new ValueConversionError(path, `a function${value.name ? ` (${value.name})` : ""} cannot be sent`);
    case "symbol":
      throw new ValueConversionError(path, "a symbol cannot be sent");
    case "object":
      break;
  }
  if (value === null) {
    return create(ValueSchema, { kind: { case: "nullValue", value: {} } });
  }
  if (value instanceof Uint8Array) {
    return create(ValueSchema, { kind: { case: "bytesValue", value: Uint8Array.from(value) } });
  }
  if (ancestors.includes(value)) {
    throw new ValueConversionError(path, "the value contains itself (a cycle)");
  }
  if (depth >= MAX_DEPTH) {
    throw new ValueConversionError(path, `the value nests containers more than ${MAX_DEPTH} levels deep`);
  }
  const inner = [...ancestors, value];
  const items = (list: Iterable<unknown>) =>
    [...list].map((item, index) => encode(item, `${path}[${index}]`, depth + 1, inner));
  if (Array.isArray(value)) {
    return create(ValueSchema, { kind: { case: "listValue", value: { values: items(value) } } });
  }
  if (value instanceof Tuple) {
    return create(ValueSchema, { kind: { case: "tupleValue", value: { values: items(value.items) } } });
  }
  if (value instanceof PySet) {
    return create(ValueSchema, { kind: { case: "setValue", value: { values: items(value.items) } } });
  }
  if (value instanceof Map) {
    const entries = [...value.entries()].map(([key, item]: [unknown, unknown], index) => ({
      key: encode(key, `${path}.<key ${index}>`, depth + 1, inner),
      value: encode(item, `${path}${keyPath(key, index)}`, depth + 1, inner),
    }));
    return create(ValueSchema, { kind: { case: "mapValue", value: { entries } } });
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) {
    const entries = Object.entries(value).map(([key, item], index) => ({
      key: encode(key, `${path}.<key ${index}>`, depth + 1, inner),
      value: encode(item, `${path}${propertyPath(key)}`, depth + 1, inner),
    }));
    return create(ValueSchema, { kind: { case: "mapValue", value: { entries } } });
  }
  throw new ValueConversionError(
    path,
    `a value of type ${describeType(value)} cannot be sent (supported: null, undefined, boolean, bigint, ` +
      "number, string, Uint8Array, Array, Tuple, PySet, Map and plain objects)",
  );
}

/** A lone high surrogate, or a low surrogate without its high half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyPath(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function keyPath(key: unknown, index: number): string {
  if (typeof key === "string") {
    return propertyPath(key);
  }
  if (typeof key === "bigint" || typeof key === "number" || typeof key === "boolean") {
    return `[${typeof key === "bigint" ? `${key}n` : String(key)}]`;
  }
  return `[<key ${index}>]`;
}

function describeType(value: object): string {
  const constructor: unknown = (value as { constructor?: unknown }).constructor;
  return typeof constructor === "function" && constructor.name ? constructor.name : "object";
}

/**
 * Decode a `Value` into a JS value (see the module comment for the mapping).
 *
 * @param path - names the value in error messages (`outputs.result`).
 * @throws {@link ValueConversionError} for a malformed value: no kind set, a bad
 *   `big_int_value`, or a `chunked_value` that was not reassembled.
 */
export function fromValue(value: Value, path = "value"): OpValue {
  const kind = value.kind;
  switch (kind.case) {
    case "nullValue":
      return null;
    case "boolValue":
    case "intValue":
    case "doubleValue":
    case "stringValue":
    case "bytesValue":
      return kind.value;
    case "bigIntValue":
      return parseBigInt(kind.value, path);
    case "listValue":
      return kind.value.values.map((item, index) => fromValue(item, `${path}[${index}]`));
    case "tupleValue":
      return new Tuple(kind.value.values.map((item, index) => fromValue(item, `${path}[${index}]`)));
    case "setValue":
      return new PySet(kind.value.values.map((item, index) => fromValue(item, `${path}[${index}]`)));
    case "mapValue": {
      const map = new Map<OpValue, OpValue>();
      kind.value.entries.forEach((entry, index) => {
        if (entry.key === undefined || entry.value === undefined) {
          throw new ValueConversionError(`${path}.<key ${index}>`, "a map entry has no key or no value");
        }
        const key = fromValue(entry.key, `${path}.<key ${index}>`);
        map.set(key, fromValue(entry.value, `${path}${keyPath(key, index)}`));
      });
      return map;
    }
    case "chunkedValue":
      throw new ValueConversionError(path, "a chunked value must be reassembled from its chunks before decoding");
    case undefined:
      throw new ValueConversionError(path, "the value has no kind set (or one this client does not know)");
  }
}

/** Parse a `big_int_value`: an optional `-`, then base-10 digits without leading zeros. */
export function parseBigInt(text: string, path = "value"): bigint {
  if (!/^-?(0|[1-9][0-9]*)$/.test(text)) {
    throw new ValueConversionError(path, `big_int_value ${JSON.stringify(text.slice(0, 40))} is not a base-10 integer`);
  }
  return BigInt(text);
}
