import { createHash } from "node:crypto";
import { badUserInput } from "./errors.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/** Validates a client-supplied id; a malformed one is the client's mistake, not a server error. */
export function parseId(value: unknown, argument = "id"): string {
  if (!isUuid(value)) {
    throw badUserInput(`Argument "${argument}" must be a UUID, got ${JSON.stringify(value)}.`, argument);
  }
  return value.toLowerCase();
}

/** Stable UUID (version 5 layout) derived from a name, so seeded ids are the same on every machine. */
export function deterministicUuid(name: string): string {
  const bytes = createHash("sha1").update(`catalog:${name}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
