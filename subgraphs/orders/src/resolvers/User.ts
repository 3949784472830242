import { decodeTimeCursor, isUuid, parseFirst, timeConnection } from "@catalog/common";
import type { UserResolvers } from "../generated/graphql.ts";

const CURSOR_KIND = "orders:newest";

export const User: UserResolvers = {
  __resolveReference(reference) {
    return isUuid(reference.id) ? { id: reference.id.toLowerCase() } : null;
  },
  async orders(user, args, ctx) {
    const first = parseFirst(args.first);
    const after = decodeTimeCursor(args.after, CURSOR_KIND);
    const rows = await ctx.loaders.ordersByUser.load({ userId: user.id, limit: first, ...(after ? { after } : {}) });
    return {
      ...timeConnection(rows, first, CURSOR_KIND),
      totalCount: () => ctx.loaders.orderCountByUser.load(user.id),
    };
  },
};
