/**
 * Large values as ordered chunks (docs/protocol.md, section 5): splitting a value
 * for upload, and reassembling an output from its `value_chunk` events.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ProtocolError } from "./errors.js";
import {
  type ChunkedValueRef,
  type Value,
  type ValueChunk,
  ValueChunkSchema,
  ValueSchema,
} from "./gen/ophost/v1/value_pb.js";

/** The most bytes of one chunked output the client reassembles (1 GiB). */
export const MAX_OUTPUT_BYTES = 1 << 30;

/** A value as it goes into `ExecutionStart`: inline, or a reference plus its chunks. */
export interface SplitValue {
  readonly wire: Value;
  readonly chunks: readonly ValueChunk[];
  /** The size of the serialized value, in bytes. */
  readonly size: number;
}

/**
 * Serialize `value`; keep it inline when it is at most `inlineThreshold` bytes long,
 * else cut it into chunks of `chunkSize` bytes announced by a `chunked_value`.
 */
export function splitValue(value: Value, inlineThreshold: number, chunkSize: number, valueId: string): SplitValue {
  const bytes = toBinary(ValueSchema, value);
  if (bytes.length <= inlineThreshold) {
    return { wire: value, chunks: [], size: bytes.length };
  }
  const count = Math.ceil(bytes.length / chunkSize);
  const chunks: ValueChunk[] = [];
  for (let index = 0; index < count; index++) {
    const offset = index * chunkSize;
    chunks.push(
      create(ValueChunkSchema, {
        valueId,
        index,
        offset: BigInt(offset),
        data: bytes.subarray(offset, offset + chunkSize),
        last: index === count - 1,
      }),
    );
  }
  const wire = create(ValueSchema, {
    kind: {
      case: "chunkedValue",
      value: { valueId, totalSizeBytes: BigInt(bytes.length), chunkCount: count },
    },
  });
  return { wire, chunks, size: bytes.length };
}

/**
 * Collects the chunks of one output value, checking each against the reference
 * (value id, index order, offsets, count and total size), then parses the `Value`.
 */
export class ChunkAssembler {
  private readonly pieces: Uint8Array[] = [];
  private received = 0;
  private readonly total: number;

  constructor(
    private readonly ref: ChunkedValueRef,
    private readonly path: string,
  ) {
    if (ref.chunkCount < 1) {
      throw new ProtocolError(`${path}: a chunked value announces ${ref.chunkCount} chunks (at least 1 needed)`);
    }
    if (ref.totalSizeBytes > BigInt(MAX_OUTPUT_BYTES)) {
      throw new ProtocolError(
        `${path}: a chunked value of ${ref.totalSizeBytes} bytes is over the client's limit of ${MAX_OUTPUT_BYTES}`,
      );
    }
    this.total = Number(ref.totalSizeBytes); // exact: at most MAX_OUTPUT_BYTES
  }

  /** Add the next chunk; returns the reassembled value after the last one, else `undefined`. */
  add(chunk: ValueChunk): Value | undefined {
    const index = this.pieces.length;
    const problem =
      chunk.valueId !== this.ref.valueId
        ? `value id ${JSON.stringify(chunk.valueId)}, expected ${JSON.stringify(this.ref.valueId)}`
        : chunk.index !== index
          ? `index ${chunk.index}, expected ${index}`
          : chunk.offset !== BigInt(this.received)
            ? `offset ${chunk.offset}, expected ${this.received}`
            : this.received + chunk.data.length > this.total
              ? `more than the announced ${this.total} bytes`
              : chunk.last !== (index === this.ref.chunkCount - 1)
                ? `last=${chunk.last} on chunk ${index} of ${this.ref.chunkCount}`
                : undefined;
    if (problem !== undefined) {
      throw new ProtocolError(`${this.path}: chunk with ${problem}`);
    }
    this.pieces.push(chunk.data);
    this.received += chunk.data.length;
    if (!chunk.last) {
      return undefined;
    }
    if (this.received !== this.total) {
      throw new ProtocolError(`${this.path}: chunks hold ${this.received} bytes, ${this.total} announced`);
    }
    const bytes = new Uint8Array(this.total);
    let offset = 0;
    for (const piece of this.pieces) {
      bytes.set(piece, offset);
      offset += piece.length;
    }
    this.pieces.length = 0;
    let value: Value;
    try {
      value = fromBinary(ValueSchema, bytes);
    } catch (error) {
      throw new ProtocolError(`${this.path}: the reassembled chunks do not parse as a Value`, { cause: error });
    }
    if (value.kind.case === "chunkedValue") {
      throw new ProtocolError(`${this.path}: the reassembled value is itself a chunked reference`);
    }
    return value;
  }
}
