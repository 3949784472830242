import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "./generated/prisma/client.ts";

export type { User } from "./generated/prisma/client.ts";
export type UsersPrisma = PrismaClient<"query">;

export function createPrisma(adapter: SqlDriverAdapterFactory): UsersPrisma {
  // Query events are always emitted (and ignored unless listened to) so tests can count statements.
  return new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
}

/** A transaction client, as `$transaction(async (tx) => ...)` passes it. */
export type Tx = Parameters<Parameters<UsersPrisma["$transaction"]>[0]>[0];
