/** Unit tests of the value mapping and of chunking (no server). */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChunkAssembler, splitValue } from "../src/chunks.js";
import { ChunkedValueRefSchema, ValueSchema, ValueChunkSchema } from "../src/gen/ophost/v1/value_pb.js";
import { fromValue, MAX_DEPTH, ProtocolError, PySet, toValue, Tuple, ValueConversionError } from "../src/index.js";
import { StartRequest } from "../src/request.js";
import { MAX_SEQUENCE, toSequence } from "../src/sequence.js";

const roundTrip = (value: unknown) => fromValue(toValue(value));

describe("toValue / fromValue", () => {
  it("keeps integers as bigint, in both wire arms", () => {
    const max = 2n ** 63n - 1n;
    const min = -(2n ** 63n);
    assert.equal(toValue(max).kind.case, "intValue");
    assert.equal(toValue(min).kind.case, "intValue");
    assert.deepEqual(toValue(max + 1n).kind, { case: "bigIntValue", value: "9223372036854775808" });
    assert.deepEqual(toValue(min - 1n).kind, { case: "bigIntValue", value: "-9223372036854775809" });
    for (const value of [0n, -1n, max, min, max + 1n, min - 1n, 10n ** 40n]) {
      assert.equal(roundTrip(value), value);
    }
  });

  it("sends every number as a double, keeping NaN, infinities and -0", () => {
    assert.deepEqual(toValue(2).kind, { case: "doubleValue", value: 2 });
    assert.ok(Number.isNaN(roundTrip(Number.NaN)));
    assert.equal(roundTrip(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
    assert.equal(roundTrip(Number.NEGATIVE_INFINITY), Number.NEGATIVE_INFINITY);
    assert.ok(Object.is(roundTrip(-0), -0));
  });

  it("maps null, undefined, booleans, strings and bytes", () => {
    assert.equal(roundTrip(null), null);
    assert.equal(roundTrip(undefined), null);
    assert.equal(roundTrip(true), true);
    assert.equal(roundTrip("h\u00e9 \u{1F600}"), "h\u00e9 \u{1F600}");
    assert.deepEqual(roundTrip(new Uint8Array([0, 255, 7])), new Uint8Array([0, 255, 7]));
    assert.deepEqual(roundTrip(Buffer.from("ab")), new Uint8Array([97, 98]));
  });

  it("keeps lists, tuples, sets and maps apart, in order", () => {
    const decoded = roundTrip([1n, new Tuple([2n, "x"]), new PySet([3n]), new Map<unknown, unknown>([[new Tuple([1n]), "t"], [2n, null]])]);
    assert.ok(Array.isArray(decoded));
    const [one, tuple, set, map] = decoded;
    assert.equal(one, 1n);
    assert.ok(tuple instanceof Tuple);
    assert.deepEqual(tuple.items, [2n, "x"]);
    assert.ok(set instanceof PySet);
    assert.deepEqual(set.items, [3n]);
    assert.ok(map instanceof Map);
    const keys = [...map.keys()];
    assert.ok(keys[0] instanceof Tuple);
    assert.equal(keys[1], 2n);
  });

  it("turns plain objects into maps with string keys, in insertion order", () => {
    const decoded = roundTrip({ b: 1n, a: [true], "odd key": null });
    assert.ok(decoded instanceof Map);
    assert.deepEqual([...decoded.entries()], [["b", 1n], ["a", [true]], ["odd key", null]]);
  });

  it("names the path of an unconvertible value", () => {
    const rows = [{ x: 1n }, { x: 2n }, { x: () => 3 }];
    assert.throws(
      () => toValue(rows, "inputs.rows"),
      (error: unknown) => error instanceof ValueConversionError && error.path === "inputs.rows[2].x" && /function/.test(error.message),
    );
    assert.throws(() => toValue(Symbol("s"), "v"), ValueConversionError);
    assert.throws(() => toValue(new Date(0), "inputs.when"), /Date cannot be sent/);
    assert.throws(() => toValue(new Map([["k", new Set([1])]]), "config"), /config\["k"\]|config\.k/);
  });

  it("refuses lone surrogates, cycles and too deep nesting", () => {
    assert.throws(() => toValue("a\uD800b", "inputs.s"), /lone surrogate/);
    assert.equal(roundTrip("\uD83D\uDE00"), "\u{1F600}");
    const cycle: unknown[] = [1n];
    cycle.push(cycle);
    assert.throws(() => toValue(cycle, "inputs.c"), (error: unknown) => error instanceof ValueConversionError && error.path === "inputs.c[1]");
    let deep: unknown = 1n;
    for (let i = 0; i < MAX_DEPTH; i++) {
      deep = [deep];
    }
    assert.equal(toValue(deep).kind.case, "listValue");
    assert.throws(() => toValue([deep]), /more than 30 levels/);
  });

  it("rejects malformed values when decoding", () => {
    assert.throws(() => fromValue(create(ValueSchema, {})), ValueConversionError);
    assert.throws(() => fromValue(create(ValueSchema, { kind: { case: "bigIntValue", value: "012" } })), /not a base-10 integer/);
    assert.equal(fromValue(create(ValueSchema, { kind: { case: "bigIntValue", value: "5" } })), 5n);
  });

  it("attributes a bad input to its op and input", () => {
    assert.throws(
      () => StartRequest.encode("add", { a: [1n, 2n, () => 0] }, {}),
      (error: unknown) =>
        error instanceof ValueConversionError &&
        error.opName === "add" &&
        error.input === "a" &&
        error.path === "inputs.a[2]" &&
        /inputs\.a\[2\] of op "add"/.test(error.message),
    );
  });
});

describe("chunks", () => {
  const big = toValue(new Uint8Array(100_000).map((_, i) => i % 251));

  it("keeps small values inline and cuts large ones", () => {
    assert.equal(splitValue(big, 200_000, 1000, "v").chunks.length, 0);
    const split = splitValue(big, 1000, 30_000, "inputs.x");
    assert.equal(split.wire.kind.case, "chunkedValue");
    assert.equal(split.chunks.length, Math.ceil(split.size / 30_000));
    assert.deepEqual(split.chunks.map((chunk) => chunk.last), [false, false, false, true]);
  });

  it("reassembles chunks into the value", () => {
    const split = splitValue(big, 1000, 30_000, "out");
    assert.equal(split.wire.kind.case, "chunkedValue");
    if (split.wire.kind.case !== "chunkedValue") return;
    const assembler = new ChunkAssembler(split.wire.kind.value, "outputs.result");
    const results = split.chunks.map((chunk) => assembler.add(chunk));
    assert.deepEqual(results.slice(0, -1), [undefined, undefined, undefined]);
    const value = results.at(-1);
    assert.ok(value !== undefined);
    assert.deepEqual(toBinary(ValueSchema, value), toBinary(ValueSchema, big));
  });

  it("rejects chunks that do not match the reference", () => {
    const split = splitValue(big, 1000, 30_000, "out");
    if (split.wire.kind.case !== "chunkedValue") return assert.fail("not chunked");
    const assembler = new ChunkAssembler(split.wire.kind.value, "outputs.result");
    const second = split.chunks[1];
    assert.ok(second !== undefined);
    assert.throws(() => assembler.add(second), (error: unknown) => error instanceof ProtocolError && /index 1, expected 0/.test(error.message));
    const first = split.chunks[0];
    assert.ok(first !== undefined);
    const wrongOffset = create(ValueChunkSchema, { valueId: first.valueId, index: 0, offset: 5n, data: first.data });
    assert.throws(() => new ChunkAssembler(split.wire.kind.value as never, "o").add(wrongOffset), /offset 5, expected 0/);
  });

  it("compares 64-bit sizes and offsets without rounding them", () => {
    const huge = 2n ** 53n + 1n; // a double would read it as 2^53
    assert.throws(
      () => new ChunkAssembler(create(ChunkedValueRefSchema, { valueId: "v", totalSizeBytes: huge, chunkCount: 2 }), "o"),
      /a chunked value of 9007199254740993 bytes is over/,
    );
    const assembler = new ChunkAssembler(create(ChunkedValueRefSchema, { valueId: "v", totalSizeBytes: 4n, chunkCount: 1 }), "o");
    const far = create(ValueChunkSchema, { valueId: "v", index: 0, offset: 2n ** 64n - 1n, data: new Uint8Array(4), last: true });
    assert.throws(() => assembler.add(far), /offset 18446744073709551615, expected 0/);
  });
});

describe("sequences", () => {
  it("takes bigints and safe integers, exactly, within uint64", () => {
    assert.equal(toSequence(0, "s"), 0n);
    assert.equal(toSequence(2n ** 53n + 1n, "s"), 9007199254740993n);
    assert.equal(toSequence(MAX_SEQUENCE, "s"), 2n ** 64n - 1n);
    for (const bad of [-1, -1n, 2n ** 64n, 2 ** 53, 1.5, Number.NaN]) {
      assert.throws(() => toSequence(bad, "afterSequence"), RangeError, String(bad));
    }
  });
});
