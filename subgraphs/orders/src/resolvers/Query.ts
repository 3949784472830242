import { parseId } from "@catalog/common";
import type { Context } from "../context.ts";

export const Query = {
  order(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.orderById.load(parseId(args.id));
  },
};
