import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "./generated/prisma/client.ts";

export type { Cart, CartLine, Checkout, Order, OrderItem, OrderTransition, Payment } from "./generated/prisma/client.ts";
export type { OrderStatus, PaymentStatus, StockState } from "./generated/prisma/enums.ts";
export type OrdersPrisma = PrismaClient<"query">;
/** The client inside an interactive transaction. */
export type OrdersTransaction = Parameters<Parameters<OrdersPrisma["$transaction"]>[0]>[0];

export function createPrisma(adapter: SqlDriverAdapterFactory): OrdersPrisma {
  return new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
}
