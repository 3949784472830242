import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usersSubgraph } from "../src/module.ts";
import { createUser } from "../../../test/support/fixtures.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";
import { ADMIN } from "../../../test/support/auth.ts";
import type { UsersPrisma } from "../src/prisma.ts";

let h: SubgraphHarness<UsersPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(usersSubgraph, { viewer: ADMIN }); // data behaviour, tested as an admin
});
afterAll(async () => {
  await h?.close();
});

describe("users subgraph", () => {
  it("user(id) returns the user without any password field, and null for deleted or unknown ids", async () => {
    const active = await createUser(h.prisma);
    const deleted = await createUser(h.prisma, { status: "DELETED" });
    const result = await h.execute(
      `query ($a: ID!, $d: ID!) { a: user(id: $a) { id email fullName status roles } d: user(id: $d) { id } u: user(id: "00000000-0000-4000-8000-000000000000") { id } }`,
      { a: active.id, d: deleted.id },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      a: { id: active.id, email: active.email, fullName: `Test ${active.lastName}`, status: "ACTIVE", roles: ["CUSTOMER"] },
      d: null,
      u: null,
    });
  });

  it("does not expose the password hash in the schema", async () => {
    const result = await h.execute(`{ __type(name: "User") { fields { name } } }`);
    const fields = (result.data!.__type as { fields: { name: string }[] }).fields.map((f) => f.name);
    expect(fields).not.toContain("passwordHash");
    expect(fields.some((name) => /password/i.test(name))).toBe(false);
  });

  it("rejects a malformed id with BAD_USER_INPUT", async () => {
    const result = await h.execute(`{ user(id: "123") { id } }`);
    expect(result.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "id" });
  });

  it("emails are unique, and stored lower-cased so that uniqueness ignores case", async () => {
    const user = await createUser(h.prisma);
    const data = { firstName: "A", lastName: "B", passwordHash: "x" };
    // The same address again violates the unique index (Prisma's P2002) ...
    await expect(h.prisma.user.create({ data: { ...data, email: user.email } })).rejects.toMatchObject({ code: "P2002" });
    // ... and a differently-cased copy cannot be stored at all, so it cannot slip past the index.
    await expect(h.prisma.user.create({ data: { ...data, email: user.email.toUpperCase() } })).rejects.toThrow(/users_email_lowercase/);
    expect(await h.prisma.user.count({ where: { email: { equals: user.email, mode: "insensitive" } } })).toBe(1);
  });

  it("pages through users with a role filter", async () => {
    const admins = [await createUser(h.prisma, { admin: true }), await createUser(h.prisma, { admin: true }), await createUser(h.prisma, { admin: true })];
    const ids: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const result = await h.execute(
        `query ($after: String) { users(filter: { role: ADMIN }, first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      expect(result.errors).toBeUndefined();
      const users = result.data!.users as { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
      ids.push(...users.edges.map((e) => e.node.id));
      if (!users.pageInfo.hasNextPage) break;
      after = users.pageInfo.endCursor;
    }
    for (const admin of admins) expect(ids).toContain(admin.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("resolves User entities in order, with null for unknown and malformed keys", async () => {
    const [a, b] = [await createUser(h.prisma), await createUser(h.prisma)];
    const result = await h.execute(
      `query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { id email } } }`,
      {
        representations: [
          { __typename: "User", id: b.id },
          { __typename: "User", id: "00000000-0000-4000-8000-000000000000" },
          { __typename: "User", id: "not-a-uuid" },
          { __typename: "User", id: a.id },
        ],
      },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toEqual([{ id: b.id, email: b.email }, null, null, { id: a.id, email: a.email }]);
  });
});
