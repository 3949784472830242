import { sendError } from "@catalog/common/edge";
import { ANSWERED, type HttpStage } from "./stage.ts";

/**
 * HTTP batching (a JSON array of operations in one request) multiplies the work one request can
 * ask for and defeats per-request limits, so it is off unless MAX_BATCH_OPERATIONS allows it, and
 * then capped. Apollo Server refuses arrays when batching is off too; this answers first, with a
 * specific code, and also enforces the cap, which Apollo Server has no option for.
 */
export function batchGuard(maxOperations: number): HttpStage["run"] {
  return (req, res) => {
    if (!Array.isArray(req.body)) return;
    const [code, message] =
      maxOperations === 0
        ? ["BATCHING_DISABLED", "Batched requests (a JSON array of operations) are not accepted; send one operation per request."]
        : req.body.length > maxOperations || req.body.length === 0
          ? ["BATCH_TOO_LARGE", `A batch may hold 1 to ${maxOperations} operations; this one holds ${req.body.length}.`]
          : [undefined, undefined];
    if (!code) return;
    sendError(res, 400, code, message);
    return ANSWERED;
  };
}
