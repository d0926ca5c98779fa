/**
 * Event sequence numbers. They are `uint64` on the wire and `bigint` everywhere in
 * this client, so every value stays exact: a JS `number` is exact only up to 2^53.
 *
 * @module
 */

/** The largest sequence the protocol can carry: 2^64 - 1. */
export const MAX_SEQUENCE = 2n ** 64n - 1n;

/**
 * A sequence the caller passed, as a `bigint`. A `number` is taken only when it is a
 * safe integer (beyond 2^53 it may already have lost its exact value: pass a
 * `bigint`); the value must lie between 0 and 2^64 - 1.
 *
 * @param name - names the argument in error messages (`afterSequence`).
 */
export function toSequence(value: bigint | number, name: string): bigint {
  let sequence: bigint;
  if (typeof value === "bigint") {
    sequence = value;
  } else if (typeof value === "number" && Number.isSafeInteger(value)) {
    sequence = BigInt(value);
  } else {
    throw new RangeError(`${name} must be a bigint, or a number that is a safe integer; got ${String(value)}`);
  }
  if (sequence < 0n || sequence > MAX_SEQUENCE) {
    throw new RangeError(`${name} must be between 0 and 2^64 - 1, got ${sequence}`);
  }
  return sequence;
}
