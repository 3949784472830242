import { badUserInput, decodeCursor, encodeCursor, isUuid, parseCursorDate, parseFirst, toConnection } from "@catalog/common";
import type { UserResolvers } from "../generated/graphql.ts";

const CURSOR_KIND = "orders:newest";

export const User: UserResolvers = {
  __resolveReference(reference) {
    return isUuid(reference.id) ? { id: reference.id.toLowerCase() } : null;
  },
  async orders(user, args, ctx) {
    const first = parseFirst(args.first);
    const cursor = decodeCursor(args.after, CURSOR_KIND, 2);
    let after: { createdAt: Date; id: string } | undefined;
    if (cursor) {
      const createdAt = parseCursorDate(cursor[0]);
      if (!createdAt || !isUuid(cursor[1])) {
        throw badUserInput(`Argument "after" is not a cursor this list issued.`, "after");
      }
      after = { createdAt, id: cursor[1] };
    }
    const rows = await ctx.loaders.ordersByUser.load({ userId: user.id, limit: first, ...(after ? { after } : {}) });
    return {
      ...toConnection(rows, first, (row) => encodeCursor(CURSOR_KIND, [row.createdAt.toISOString(), row.id])),
      totalCount: () => ctx.loaders.orderCountByUser.load(user.id),
    };
  },
};
