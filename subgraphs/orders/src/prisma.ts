import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "./generated/prisma/client.ts";

export type { Order, OrderItem } from "./generated/prisma/client.ts";
export type OrdersPrisma = PrismaClient<"query">;

export function createPrisma(adapter: SqlDriverAdapterFactory): OrdersPrisma {
  return new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
}
