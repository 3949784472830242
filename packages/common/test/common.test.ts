import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it, inject } from "vitest";
import {
  applyMigrations,
  catalogSeed,
  decodeCursor,
  deriveDatabaseUrl,
  deterministicUuid,
  dropPostgresDatabase,
  encodeCursor,
  ensurePostgresDatabase,
  maskError,
  openPostgres,
  parseFirst,
  parseId,
  PRISMA_DIR,
  SEED_SIZES,
} from "../src/index.ts";
import "../../../test/support/provided.ts";

describe("ids and pages", () => {
  it("parseId accepts UUIDs (normalised to lower case) and rejects the rest with BAD_USER_INPUT", () => {
    expect(parseId("6F2B7E1C-1111-4A2B-9C3D-000000000001")).toBe("6f2b7e1c-1111-4a2b-9c3d-000000000001");
    for (const bad of ["", "1", "6f2b7e1c-1111-4a2b-9c3d-00000000000", "'; drop table users; --", 42]) {
      expect(() => parseId(bad)).toThrowError(expect.objectContaining({ extensions: expect.objectContaining({ code: "BAD_USER_INPUT" }) }));
    }
  });

  it("parseFirst defaults to 20 and accepts exactly 1..100", () => {
    expect(parseFirst(undefined)).toBe(20);
    expect(parseFirst(1)).toBe(1);
    expect(parseFirst(100)).toBe(100);
    for (const bad of [0, -1, 101, 1.5]) expect(() => parseFirst(bad)).toThrow(/between 1 and 100/);
  });

  it("cursors round-trip, and foreign or forged cursors are refused", () => {
    const cursor = encodeCursor("kind", ["2026-01-01T00:00:00.000Z", "abc"]);
    expect(decodeCursor(cursor, "kind", 2)).toEqual(["2026-01-01T00:00:00.000Z", "abc"]);
    expect(decodeCursor(undefined, "kind", 2)).toBeUndefined();
    expect(() => decodeCursor(cursor, "other", 2)).toThrow(/not a cursor/);
    expect(() => decodeCursor(cursor, "kind", 3)).toThrow(/not a cursor/);
    expect(() => decodeCursor("%%%", "kind", 2)).toThrow(/not a cursor/);
    expect(() => decodeCursor(Buffer.from("{}").toString("base64url"), "kind", 2)).toThrow(/not a cursor/);
  });

  it("deterministic ids are stable UUIDs", () => {
    expect(deterministicUuid("x")).toBe(deterministicUuid("x"));
    expect(deterministicUuid("x")).not.toBe(deterministicUuid("y"));
    expect(deterministicUuid("x")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("derives one database per subgraph from a single DATABASE_URL", () => {
    expect(deriveDatabaseUrl("postgresql://u:p@db:5432/shop?sslmode=require", "orders")).toBe(
      "postgresql://u:p@db:5432/shop_orders?sslmode=require",
    );
  });
});

describe("the demo seed", () => {
  it("is large enough, internally consistent and identical on every call", () => {
    const seed = catalogSeed();
    expect(seed.products).toHaveLength(SEED_SIZES.products);
    expect(seed.users.length).toBeGreaterThanOrEqual(200);
    expect(seed.orders.length).toBeGreaterThanOrEqual(2000);
    expect(seed.categories.length).toBeGreaterThanOrEqual(30);
    expect(new Set(seed.categories.map((c) => c.depth))).toEqual(new Set([0, 1, 2]));
    expect(seed.stock).toHaveLength(seed.products.length);
    expect(seed.reviews.length).toBeGreaterThan(1000);
    const productIds = new Set(seed.products.map((p) => p.id));
    const userIds = new Set(seed.users.map((u) => u.id));
    expect(seed.orders.every((o) => userIds.has(o.userId) && o.items.every((i) => productIds.has(i.productId)))).toBe(true);
    for (const order of seed.orders.slice(0, 50)) {
      const total = order.items.reduce((sum, i) => sum + Math.round(Number(i.unitPrice) * 100) * i.quantity, 0);
      expect(order.totalAmount).toBe((total / 100).toFixed(2));
    }
    expect(seed.stock.every((s) => s.onHand >= 0 && s.reserved >= 0 && s.reserved <= s.onHand)).toBe(true);
  });
});

describe("error masking", () => {
  it("keeps public errors and replaces everything else with a request id", () => {
    expect(maskError({ message: "bad", extensions: { code: "BAD_USER_INPUT", stacktrace: ["x"] } }, "r1")).toEqual({
      message: "bad",
      extensions: { code: "BAD_USER_INPUT" },
    });
    expect(maskError({ message: "relation users does not exist", path: ["user"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, "r1")).toEqual({
      message: "Internal server error",
      path: ["user"],
      extensions: { code: "INTERNAL_SERVER_ERROR", requestId: "r1" },
    });
  });
});

describe("migrations", () => {
  const url = deriveDatabaseUrl(inject("databaseUrls").users.replace(/_users$/, ""), "migrations_check");
  afterAll(async () => {
    await dropPostgresDatabase(url);
  });

  it("apply once, record themselves in _prisma_migrations, are idempotent, and refuse an edited migration", async () => {
    await ensurePostgresDatabase(url);
    const db = openPostgres(url);
    try {
      const first = await applyMigrations(db, "inventory");
      const names = (await readdir(path.join(PRISMA_DIR, "inventory/migrations"), { withFileTypes: true }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort();
      expect(names.slice(0, 2)).toEqual(["20261121000000_init", "20261202000000_reservations"]);
      expect(first.applied).toEqual(names);
      const second = await applyMigrations(db, "inventory");
      expect(second).toEqual({ applied: [], alreadyApplied: names.length });
      const rows = await db.query<{ migration_name: string; checksum: string }>(
        `SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      expect(rows).toHaveLength(names.length);
      const sql = await readFile(path.join(PRISMA_DIR, "inventory/migrations/20261121000000_init/migration.sql"));
      const { createHash } = await import("node:crypto");
      expect(rows[0]!.checksum).toBe(createHash("sha256").update(sql).digest("hex"));

      await db.exec(`UPDATE "_prisma_migrations" SET checksum = 'edited'`);
      await expect(applyMigrations(db, "inventory")).rejects.toThrow(/edited after it was applied/);
      // The check constraints are real: stock cannot go negative at the database level either.
      await expect(db.exec(`INSERT INTO stock_items (product_id, on_hand, updated_at) VALUES (gen_random_uuid(), -1, now())`)).rejects.toThrow(
        /stock_items_on_hand_non_negative/,
      );
    } finally {
      await db.close();
    }
  });
});
