import { parseId } from "@catalog/common";
import type { Context } from "../context.ts";
import { visibleOrder } from "./Order.ts";

export const Query = {
  order(_: unknown, args: { id: string }, ctx: Context) {
    return visibleOrder(parseId(args.id), ctx);
  },
};
