/** The package's runtime exports, pinned: adding or removing one is a decision, not an accident. */

import assert from "node:assert/strict";
import { it } from "node:test";
import * as api from "../src/index.js";

it("exports exactly these values", () => {
  assert.deepEqual(Object.keys(api).sort(), [
    "ChunkedOutput",
    "ClientClosedError",
    "DEFAULTS",
    "Execution",
    "ExecutionCanceledError",
    "ExecutionError",
    "MAX_DEPTH",
    "MAX_OUTPUT_BYTES",
    "OpFailedError",
    "OpHostClientError",
    "OpHostRpcError",
    "ProtocolError",
    "PySet",
    "STATUS_CODE_NAMES",
    "StreamBrokenError",
    "Tuple",
    "ValueConversionError",
    "createOpHostClient",
    "fromValue",
    "isTerminalState",
    "toValue",
  ]);
});

it("makes clients through createOpHostClient only", () => {
  // The class is a type-only export and the older factory is gone.
  for (const removed of ["OpHostClient", "createClient"]) {
    assert.equal(removed in api, false, removed);
  }
  assert.throws(() => api.createOpHostClient("no port here"), TypeError);
});
