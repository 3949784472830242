import { badUserInput, decodeCursor, encodeCursor, isUuid, parseCursorDate, parseFirst, toConnection } from "@catalog/common";
import type { Context } from "../context.ts";

const CURSOR_KIND = "orders:newest";

export const User = {
  __resolveReference(reference: { id?: unknown }) {
    return isUuid(reference.id) ? { id: reference.id.toLowerCase() } : null;
  },
  async orders(user: { id: string }, args: { first?: number | null; after?: string | null }, ctx: Context) {
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
