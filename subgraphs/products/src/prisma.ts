import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "./generated/prisma/client.ts";

export type { Category, Product, Review } from "./generated/prisma/client.ts";
export { Prisma } from "./generated/prisma/client.ts";
export type ProductsPrisma = PrismaClient<"query">;
export type ProductsTransaction = Parameters<Parameters<ProductsPrisma["$transaction"]>[0]>[0];

export function createPrisma(adapter: SqlDriverAdapterFactory): ProductsPrisma {
  return new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
}
