import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "./generated/prisma/client.ts";

export type { StockItem, StockMovement } from "./generated/prisma/client.ts";
export type { StockMovementReason } from "./generated/prisma/enums.ts";
export type InventoryPrisma = PrismaClient<"query">;

export function createPrisma(adapter: SqlDriverAdapterFactory): InventoryPrisma {
  return new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
}
