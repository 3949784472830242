import type { IncomingMessage, ServerResponse } from "node:http";
import { sendError } from "./http.ts";

/**
 * How deep request input may nest: a body, its variables and extensions, a GET's `variables` and
 * `extensions`. No operation of ours needs more than a handful of levels; past this, input is
 * refused before anything walks it (JSON.stringify, structuredClone and many libraries recurse,
 * and a few hundred kilobytes of brackets would overflow the stack).
 */
export const MAX_INPUT_DEPTH = 64;

export const INPUT_DEPTH_CODE = "MAX_INPUT_DEPTH_EXCEEDED";

/** Whether `root` nests more than `max` arrays/objects deep, found without recursion. */
export function nestsDeeperThan(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (!value || typeof value !== "object") continue;
    if (depth >= max) return true;
    for (const item of Array.isArray(value) ? value : Object.values(value)) {
      if (item && typeof item === "object") stack.push([item, depth + 1]);
    }
  }
  return false;
}

/**
 * A GraphQL request's input nests too deep: the parsed body (POST), or the JSON in a GET's
 * `variables` / `extensions` parameters (JSON.parse itself is iterative, so parsing them is safe).
 * A parameter that is not JSON is left to Apollo Server, which answers 400 for it.
 */
export function requestInputTooDeep(req: IncomingMessage & { body?: unknown }, max = MAX_INPUT_DEPTH): boolean {
  if (req.body !== undefined && nestsDeeperThan(req.body, max)) return true;
  const query = req.url?.indexOf("?") ?? -1;
  if (query === -1) return false;
  const params = new URLSearchParams(req.url!.slice(query + 1));
  for (const name of ["variables", "extensions"]) {
    const text = params.get(name);
    if (!text) continue;
    try {
      if (nestsDeeperThan(JSON.parse(text), max - 1)) return true;
    } catch {
      // Not JSON: Apollo Server refuses it with its own 400.
    }
  }
  return false;
}

/** Answers 400 MAX_INPUT_DEPTH_EXCEEDED when the request's input nests too deep; true when it did. */
export function refuseDeepInput(req: IncomingMessage & { body?: unknown }, res: ServerResponse): boolean {
  if (!requestInputTooDeep(req)) return false;
  sendError(res, 400, INPUT_DEPTH_CODE, `Request input nests deeper than ${MAX_INPUT_DEPTH} levels.`, { limit: MAX_INPUT_DEPTH });
  return true;
}
