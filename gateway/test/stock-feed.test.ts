import { randomUUID } from "node:crypto";
import { peerClient, SERVICE_SCOPES, signIdentity, signServiceIdentity } from "@catalog/common";
import { applyStockChanges } from "@catalog/products";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, ADMIN_USER, bearer, testAuthConfig } from "../../test/support/auth.ts";
import { eventually } from "../../test/support/selling.ts";
import { gql, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  // This stack's products subgraph follows inventory's stock feed (off in other test stacks).
  stack = await startStack({}, { subgraphEnv: { STOCK_SYNC_INTERVAL_MS: "200" } });
});
afterAll(async () => {
  await stack?.close();
});

const FEED = `query ($after: String, $first: Int) { stockChanges(after: $after, first: $first) { position changes { productId available version } } }`;
type Page = { stockChanges: { position: string; changes: { productId: string; available: number; version: string }[] } };

function feed(identityToken = signServiceIdentity(testAuthConfig.internalSecrets[0]!, [SERVICE_SCOPES.STOCK_FEED])) {
  const call = peerClient("inventory", () => `${stack.subgraphs.inventory.url}/graphql`, { timeoutMs: 10_000 });
  return async (after: string | null, first = 1000) =>
    (await call<Page>({ requestId: randomUUID(), identityToken }, FEED, { after, first })).data.stockChanges;
}

/** The feed from `after` to its current end. */
async function readToEnd(after: string | null) {
  const read = feed();
  const changes: Page["stockChanges"]["changes"] = [];
  for (;;) {
    const page = await read(after);
    changes.push(...page.changes);
    after = page.position;
    if (page.changes.length < 1000) return { changes, position: after };
  }
}

describe("inventory's stock change feed", () => {
  it("never hands out a change that committed while an older transaction still runs, and hands out both once it ends", async () => {
    const { inventory } = stack.prisma;
    const [early, late] = [randomUUID(), randomUUID()];
    await inventory.stockItem.createMany({ data: [{ productId: early, onHand: 1 }, { productId: late, onHand: 1 }] });
    const { position: start } = await readToEnd(null);

    // The early transaction changes its row first and commits last.
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    let changed!: () => void;
    const earlyChanged = new Promise<void>((resolve) => (changed = resolve));
    const earlyTx = inventory.$transaction(
      async (tx) => {
        await tx.stockItem.update({ where: { productId: early }, data: { onHand: 5 } });
        changed();
        await held;
      },
      { timeout: 60_000 },
    );
    await earlyChanged;
    await inventory.stockItem.update({ where: { productId: late }, data: { onHand: 7 } });

    // The late change is committed, but a reader that took it now would move past the early one.
    const meanwhile = await readToEnd(start);
    expect(meanwhile.changes.map((change) => change.productId)).not.toContain(late);
    expect(meanwhile.changes.map((change) => change.productId)).not.toContain(early);

    finish();
    await earlyTx;
    const after = await eventually(async () => {
      const read = await readToEnd(meanwhile.position);
      const ids = read.changes.map((change) => change.productId);
      expect(ids).toContain(early);
      expect(ids).toContain(late);
      return read.changes;
    });
    const ours = after.filter((change) => change.productId === early || change.productId === late);
    expect(ours).toEqual([
      { productId: early, available: 5, version: expect.any(String) },
      { productId: late, available: 7, version: expect.any(String) },
    ]);
    expect(BigInt(ours[0]!.version)).toBeLessThan(BigInt(ours[1]!.version));
  });

  it("is for services only: a user token is refused, and the gateway does not expose it", async () => {
    const asAdminDirectly = feed(signIdentity(testAuthConfig.internalSecrets[0]!, ADMIN));
    await expect(asAdminDirectly(null, 1)).rejects.toMatchObject({ extensions: { code: "FORBIDDEN" } });
    const { body } = await gql(stack.gatewayUrl, FEED, { after: null, first: 1 }, bearer(ADMIN_USER));
    expect(body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    const bad = await feed()("not-a-position", 1).catch((error: unknown) => error);
    expect(bad).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
  });
});

describe("the products subgraph's availability replica", () => {
  it("keeps the newest report of a product whatever order pages arrive in, and says which products crossed zero", async () => {
    const db = stack.subgraphs.products.db;
    const product = randomUUID();
    const row = async () =>
      (await db.query<{ available: number; version: string }>(`SELECT available, version::text FROM product_stock WHERE product_id = $1`, [product]))[0];
    const [cursor] = await db.query<{ position: string }>(`SELECT position FROM stock_feed_cursor WHERE id = 1`);
    // Positions far behind the live feed, which the stack's own sync keeps moving.
    const position = cursor?.position ?? "0:00000000-0000-0000-0000-000000000000";

    expect(await applyStockChanges(db, [{ productId: product, available: 3, version: "900000000001" }], position)).toEqual([product]);
    expect(await row()).toEqual({ available: 3, version: "900000000001" });
    // The same page again: nothing changes, nothing crossed.
    expect(await applyStockChanges(db, [{ productId: product, available: 3, version: "900000000001" }], position)).toEqual([]);
    // A newer report that sells out: it crossed.
    expect(await applyStockChanges(db, [{ productId: product, available: 0, version: "900000000005" }], position)).toEqual([product]);
    // An older report arriving late (another instance's page) is ignored.
    expect(await applyStockChanges(db, [{ productId: product, available: 9, version: "900000000003" }], position)).toEqual([]);
    expect(await row()).toEqual({ available: 0, version: "900000000005" });
  });
});
