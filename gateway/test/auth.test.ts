import { generateKeyPairSync, randomUUID } from "node:crypto";
import { IDENTITY_HEADER, signIdentity } from "@catalog/common";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessTokenFor, ADMIN_USER, bearer, TEST_AUTH_ENV, testAuthConfig } from "../../test/support/auth.ts";
import { createCategoryTree, createOrder, createProduct, createUser, token } from "../../test/support/fixtures.ts";
import { countStatements, gql, json, metricValue, type Stack, startExtraGateway, startStack } from "../../test/support/stack.ts";
import { createLogger, createTokenVerifier, listen } from "@catalog/common";
import express from "express";
import { authenticate } from "../src/auth.ts";
import { createMetrics } from "../src/metrics.ts";
import { pipelineHandler } from "../src/pipeline.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const PASSWORD = "correct horse battery";
const REGISTER = `mutation ($input: RegisterInput!) { register(input: $input) { accessToken tokenType expiresIn refreshToken user { id email roles } } }`;
const LOGIN = `mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken user { id email } } }`;
const REFRESH = `mutation ($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`;
const ME = `{ me { id email } }`;

async function register(email = `new-${token()}@test.example`) {
  const { body } = await gql(stack.gatewayUrl, REGISTER, {
    input: { email, password: PASSWORD, firstName: "Ada", lastName: "Lovelace" },
  });
  expect(body.errors).toBeUndefined();
  return body.data!.register as { accessToken: string; refreshToken: string; user: { id: string; email: string } };
}

/** The kid our HS256 tokens carry, so forgeries reach the signature check instead of a kid miss. */
const HS_KID = jwt.decode(accessTokenFor(ADMIN_USER), { complete: true })!.header.kid!;

/** Signs like the users subgraph but with whatever claims and key a forger chooses. */
function forge(claims: Record<string, unknown>, options: jwt.SignOptions = {}, key: jwt.Secret = TEST_AUTH_ENV.JWT_SECRET!) {
  const merged: jwt.SignOptions = {
    algorithm: "HS256",
    issuer: "catalog",
    audience: "catalog-api",
    subject: ADMIN_USER.id,
    expiresIn: 600,
    jwtid: randomUUID(),
    keyid: HS_KID,
    ...options,
  };
  // `expiresIn: undefined` means "no exp claim" here (jsonwebtoken rejects an undefined value).
  if (merged.expiresIn === undefined) delete merged.expiresIn;
  return jwt.sign({ roles: ["ADMIN"], scope: "catalog:write users:read orders:read", ...claims }, key, merged);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("sign-in", () => {
  it("register signs a new customer in; the access token reads their own email through the gateway", async () => {
    const email = `Mixed.${token()}@Test.Example`;
    const payload = await register(email);
    expect(payload.user).toMatchObject({ email: email.toLowerCase(), roles: ["CUSTOMER"] });
    const me = await gql(stack.gatewayUrl, ME, {}, { authorization: `Bearer ${payload.accessToken}` });
    expect(me.body).toEqual({ data: { me: { id: payload.user.id, email: email.toLowerCase() } } });
    const stored = await stack.prisma.users.user.findUniqueOrThrow({ where: { id: payload.user.id } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$/);
    expect(stored.roles).toEqual(["CUSTOMER"]);
  });

  it.each([
    ["a short password", { password: "short" }, "input.password"],
    ["the email as password", { password: "EMAIL" }, "input.password"],
    ["an invalid email", { email: "not-an-email" }, "input.email"],
    ["an empty name", { firstName: "  " }, "input.firstName"],
  ])("register with %s -> BAD_USER_INPUT, nothing written", async (_name, override, field) => {
    const email = `weak-${token()}@test.example`;
    const input = { email, password: PASSWORD, firstName: "A", lastName: `B-${token()}`, ...override };
    if (input.password === "EMAIL") input.password = email;
    const { body } = await gql(stack.gatewayUrl, REGISTER, { input });
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    // By the attempted address (other test files create users meanwhile) and by the names.
    const written = await stack.prisma.users.user.count({ where: { OR: [{ email: String(input.email).toLowerCase() }, { lastName: input.lastName, firstName: input.firstName }] } });
    expect(written).toBe(0);
  });

  it("a taken email (in any case) is CONFLICT with a message that reveals nothing about the account", async () => {
    const existing = await createUser(stack.prisma.users, { admin: true });
    const { body } = await gql(stack.gatewayUrl, REGISTER, {
      input: { email: existing.email.toUpperCase(), password: PASSWORD, firstName: "A", lastName: "B" },
    });
    expect(body.errors![0]).toMatchObject({
      message: "This email address cannot be used to register.",
      extensions: { code: "CONFLICT" },
    });
    expect(JSON.stringify(body)).not.toMatch(/admin|ADMIN|active|ACTIVE/);
    expect(await stack.prisma.users.user.count({ where: { email: existing.email } })).toBe(1);
  });

  it("a wrong password and an unknown email get the very same answer", async () => {
    const { user } = await register();
    const wrong = await gql(stack.gatewayUrl, LOGIN, { email: user.email, password: "wrong password!" });
    const unknown = await gql(stack.gatewayUrl, LOGIN, { email: `nobody-${token()}@test.example`, password: PASSWORD });
    const strip = (body: typeof wrong.body) => body.errors!.map(({ message, extensions }) => ({ message, code: extensions?.code }));
    expect(strip(wrong.body)).toEqual([{ message: "Email or password is incorrect.", code: "UNAUTHENTICATED" }]);
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
    expect([wrong.status, unknown.status]).toEqual([200, 200]);
    const ok = await gql(stack.gatewayUrl, LOGIN, { email: user.email.toUpperCase(), password: PASSWORD });
    expect(ok.body.data!.login.user.id).toBe(user.id);
  });

  it("a deleted account cannot sign in", async () => {
    const { user } = await register();
    await stack.prisma.users.user.update({ where: { id: user.id }, data: { status: "DELETED" } });
    const { body } = await gql(stack.gatewayUrl, LOGIN, { email: user.email, password: PASSWORD });
    expect(body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
  });

  it("refresh tokens rotate; replaying a used one revokes the whole sign-in; logout revokes", async () => {
    const first = await register();
    const second = await gql(stack.gatewayUrl, REFRESH, { t: first.refreshToken });
    expect(second.body.errors).toBeUndefined();
    const rotated = second.body.data!.refreshToken as { accessToken: string; refreshToken: string };
    expect(rotated.refreshToken).not.toBe(first.refreshToken);

    // The first token again: a replay. It fails, and so does the token it was rotated into.
    const replay = await gql(stack.gatewayUrl, REFRESH, { t: first.refreshToken });
    expect(replay.body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    const afterReplay = await gql(stack.gatewayUrl, REFRESH, { t: rotated.refreshToken });
    expect(afterReplay.body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    const rows = await stack.prisma.users.refreshToken.findMany({ where: { userId: first.user.id } });
    expect(rows).toHaveLength(2);
    expect(rows.every((row) => row.revokedAt !== null)).toBe(true);
    expect(rows.every((row) => row.tokenHash.length === 64 && row.tokenHash !== first.refreshToken)).toBe(true);

    const other = await gql(stack.gatewayUrl, LOGIN, { email: first.user.email, password: PASSWORD });
    const logout = await gql(stack.gatewayUrl, `mutation ($t: String!) { logout(refreshToken: $t) }`, {
      t: other.body.data!.login.refreshToken,
    });
    expect(logout.body).toEqual({ data: { logout: true } });
    const afterLogout = await gql(stack.gatewayUrl, REFRESH, { t: other.body.data!.login.refreshToken });
    expect(afterLogout.body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
  });

  it("two concurrent uses of one refresh token leave no live token behind", async () => {
    for (let round = 0; round < 5; round++) {
      const { refreshToken, user } = await register();
      const results = await Promise.all([1, 2, 3].map(() => gql(stack.gatewayUrl, REFRESH, { t: refreshToken })));
      const winners = results.filter((r) => !r.body.errors).map((r) => r.body.data!.refreshToken.refreshToken as string);
      expect(winners.length).toBeLessThanOrEqual(1);
      for (const winner of winners) {
        const again = await gql(stack.gatewayUrl, REFRESH, { t: winner });
        expect(again.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      }
      const live = await stack.prisma.users.refreshToken.count({ where: { userId: user.id, revokedAt: null } });
      expect(live).toBe(0);
    }
  });

  it("rotation never extends a sign-in: the new refresh token expires when the first one did", async () => {
    const { refreshToken, user } = await register();
    const [first] = await stack.prisma.users.refreshToken.findMany({ where: { userId: user.id } });
    const { body } = await gql(stack.gatewayUrl, `mutation ($t: String!) { refreshToken(refreshToken: $t) { refreshTokenExpiresAt } }`, { t: refreshToken });
    expect(body.data!.refreshToken.refreshTokenExpiresAt).toBe(first!.expiresAt.toISOString());
  });

  it("access tokens carry sub, roles, scope, iss, aud, exp, iat and jti", async () => {
    const { accessToken, user } = await register();
    const claims = jwt.decode(accessToken, { complete: true })!;
    expect(claims.header).toMatchObject({ alg: "HS256", kid: expect.stringMatching(/^hs-/) });
    expect(claims.payload).toMatchObject({ sub: user.id, roles: ["CUSTOMER"], scope: "", iss: "catalog", aud: "catalog-api" });
    const payload = claims.payload as jwt.JwtPayload;
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });
});

const now = () => Math.floor(Date.now() / 1000);

describe("bad tokens are refused with 401, never treated as anonymous", () => {
  const CREATE_CATEGORY = `mutation ($name: String!) { createCategory(input: { name: $name }) { id } }`;
  const cases: [string, () => string, string][] = [
    ["a forged signature", () => forge({}, {}, "a-completely-different-secret-of-32-chars"), "The access token is invalid."],
    ["an expired token (beyond the leeway)", () => forge({ exp: now() - 120 }, { expiresIn: undefined }), "The access token has expired; use refreshToken to get a new one."],
    ["a token not valid yet", () => forge({ nbf: now() + 600 }), "The access token is invalid."],
    ["the wrong audience", () => forge({}, { audience: "someone-else" }), "The access token is invalid."],
    ["the wrong issuer", () => forge({}, { issuer: "evil" }), "The access token is invalid."],
    ["no expiry at all", () => forge({}, { expiresIn: undefined }), "The access token is invalid."],
    [
      "alg: none",
      () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: ADMIN_USER.id, roles: ["ADMIN"], scope: "catalog:write", iss: "catalog", aud: "catalog-api", exp: now() + 600, iat: now(), jti: randomUUID() })}.`,
      "The access token is invalid.",
    ],
    ["garbage", () => "not.a.jwt", "The access token is invalid."],
    ["an unknown key id", () => forge({}, { keyid: "hs-unknown" }), "The access token is invalid."],
  ];

  it.each(cases)("%s", async (_name, make, message) => {
    const name = `Forged ${token()}`;
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${make()}` },
      body: JSON.stringify({ query: CREATE_CATEGORY, variables: { name } }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const body = await json(response);
    expect(body.data).toBeUndefined();
    expect(body.errors[0]).toMatchObject({ message, extensions: { code: "UNAUTHENTICATED" } });
    expect(await stack.prisma.products.category.count({ where: { name } })).toBe(0);
  });

  it("an Authorization header that is not Bearer is 401 invalid_request", async () => {
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Basic YWRtaW46YWRtaW4=" },
      body: JSON.stringify({ query: "{ categories { id } }" }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_request"');
    expect((await json(response)).errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("a token within the clock leeway (expired 10 s ago) is still accepted", async () => {
    const { body } = await gql(stack.gatewayUrl, `{ users(first: 1) { totalCount } }`, {}, {
      authorization: `Bearer ${forge({ exp: now() - 10 }, { expiresIn: undefined })}`,
    });
    expect(body.errors).toBeUndefined();
  });

  it("refusals are counted at /metrics by reason", async () => {
    const count = (reason: string) => metricValue(stack.gatewayUrl, `gateway_auth_failures_total{reason="${reason}"}`);
    const [expired, signature] = [await count("expired"), await count("signature")];
    const send = (t: string) => gql(stack.gatewayUrl, "{ categories { id } }", {}, { authorization: `Bearer ${t}` });
    await send(forge({ exp: now() - 120 }, { expiresIn: undefined }));
    await send(forge({}, {}, "a-completely-different-secret-of-32-chars"));
    await send(forge({}, {}, "a-completely-different-secret-of-32-chars"));
    expect(await count("expired")).toBe(expired + 1);
    expect(await count("signature")).toBe(signature + 2);
  });
});

describe("identity reaches subgraphs only from the gateway", () => {
  const ENTITIES = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id orders(first: 5) { totalCount } } } }`;

  it("client headers that look like internal identity are dropped at the gateway, even validly signed ones", async () => {
    const victim = await createUser(stack.prisma.users);
    // Even a genuinely signed internal token (as if leaked) is not honoured from a client.
    const leaked = signIdentity(TEST_AUTH_ENV.INTERNAL_AUTH_SECRET!, { userId: victim.id, roles: ["ADMIN"], scopes: ["users:read"] });
    const { body } = await gql(stack.gatewayUrl, `query ($id: ID!) { user(id: $id) { email } }`, { id: victim.id }, {
      [IDENTITY_HEADER]: leaked,
      "x-catalog-user-id": victim.id,
      "x-user-id": victim.id,
    });
    expect(body.data).toEqual({ user: { email: null } });
    expect(body.errors![0]).toMatchObject({ path: ["user", "email"], extensions: { code: "UNAUTHENTICATED" } });
  });

  it("the gateway deletes x-catalog-* request headers before anything else sees them", async () => {
    const app = express();
    const run = authenticate(createTokenVerifier(testAuthConfig), createMetrics(), createLogger("t", "silent"));
    app.use(pipelineHandler([{ name: "authenticate", phase: "head", why: "under test", reads: [], writes: [], run }]));
    app.get("/", (req, res) => {
      res.json(Object.keys(req.headers));
    });
    const server = await listen(app, 0);
    try {
      const seen = await json(await fetch(server.url, { headers: { [IDENTITY_HEADER]: "x", "X-Catalog-Anything": "y", "x-other": "z" } }));
      expect(seen).toContain("x-other");
      expect(seen.filter((name: string) => name.startsWith("x-catalog-"))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("a subgraph that refuses the gateway (secrets out of step) is SERVICE_UNAVAILABLE to clients, naming no address", async () => {
    const skewed = await startExtraGateway(stack, { INTERNAL_AUTH_SECRET: "z".repeat(40) });
    try {
      const { body } = await gql(skewed.url, `{ categories { id } }`);
      expect(body.errors![0]).toEqual({
        message: "The products service is unavailable; try again later.",
        extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "products" },
      });
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|http:|response/);
    } finally {
      await skewed.close();
    }
  });

  it.each([
    ["no identity header", {}],
    ["an identity signed with another secret", { [IDENTITY_HEADER]: signIdentity("x".repeat(40), null) }],
    ["an unsigned (alg: none) identity", { [IDENTITY_HEADER]: `${b64({ alg: "none" })}.${b64({ iss: "catalog-gateway", aud: "catalog-subgraphs" })}.` }],
  ])("a direct subgraph call with %s is refused with 401, _entities included", async (_name, headers) => {
    const user = await createUser(stack.prisma.users);
    const response = await fetch(`${stack.subgraphs.orders.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query: ENTITIES, variables: { r: [{ __typename: "User", id: user.id }] } }),
    });
    expect(response.status).toBe(401);
    const body = await json(response);
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("a direct mutation on a subgraph writes nothing", async () => {
    const name = `Direct ${token()}`;
    const response = await fetch(`${stack.subgraphs.products.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `mutation { createCategory(input: { name: "${name}" }) { id } }` }),
    });
    expect(response.status).toBe(401);
    expect(await stack.prisma.products.category.count({ where: { name } })).toBe(0);
  });
});

describe("authorization in the graph", () => {
  async function world() {
    const { products, users, orders } = stack.prisma;
    const [alice, bob] = await Promise.all([createUser(users), createUser(users)]);
    const { leaf } = await createCategoryTree(products);
    const product = await createProduct(products, { categoryId: leaf.id });
    await products.review.create({ data: { productId: product.id, authorId: alice.id, rating: 5, body: "Great" } });
    const order = await createOrder(orders, alice.id, [{ productId: product.id, quantity: 1, unitPrice: "9.99" }]);
    return { alice, bob, product, order };
  }

  it("the catalog is public: products, reviews and their authors' names need no token", async () => {
    const { alice, product } = await world();
    const { status, body } = await gql(
      stack.gatewayUrl,
      `query ($id: ID!) { product(id: $id) { name inStock reviews { edges { node { author { fullName } } } } } }`,
      { id: product.id },
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data!.product.reviews.edges).toEqual([{ node: { author: { fullName: `${alice.firstName} ${alice.lastName}` } } }]);
  });

  it("User.email and a user's orders: null with an error at the path for anyone but the user and admins", async () => {
    const { alice, bob } = await world();
    const query = `query ($id: ID!) { user(id: $id) { fullName email orders(first: 5) { totalCount } } }`;
    const as = (user: { id: string; roles?: string[] } | null) =>
      gql(stack.gatewayUrl, query, { id: alice.id }, user ? bearer(user) : {});

    const anonymous = await as(null);
    expect(anonymous.body.data).toEqual({ user: { fullName: expect.any(String), email: null, orders: null } });
    expect(anonymous.body.errors!.map((e) => [e.path, e.extensions!.code])).toEqual(
      expect.arrayContaining([
        [["user", "email"], "UNAUTHENTICATED"],
        [["user", "orders"], "UNAUTHENTICATED"],
      ]),
    );

    const other = await as(bob);
    expect(other.body.data).toEqual({ user: { fullName: expect.any(String), email: null, orders: null } });
    expect(other.body.errors!.map((e) => [e.path, e.extensions!.code])).toEqual(
      expect.arrayContaining([
        [["user", "email"], "FORBIDDEN"],
        [["user", "orders"], "FORBIDDEN"],
      ]),
    );

    for (const allowed of [alice, ADMIN_USER]) {
      const { body } = await as(allowed);
      expect(body.errors).toBeUndefined();
      expect(body.data!.user).toMatchObject({ email: alice.email, orders: { totalCount: 1 } });
    }
  });

  it("order(id) of someone else's order answers exactly as an order that does not exist", async () => {
    const { alice, bob, order } = await world();
    const query = `query ($id: ID!) { order(id: $id) { id total { amount } } }`;
    const others = await gql(stack.gatewayUrl, query, { id: order.id }, bearer(bob));
    const missing = await gql(stack.gatewayUrl, query, { id: randomUUID() }, bearer(bob));
    expect(others.status).toBe(missing.status);
    expect(others.body).toEqual(missing.body);
    expect(others.body).toEqual({ data: { order: null } });

    const own = await gql(stack.gatewayUrl, query, { id: order.id }, bearer(alice));
    expect(own.body).toEqual({ data: { order: { id: order.id, total: { amount: "9.99" } } } });
    const admin = await gql(stack.gatewayUrl, query, { id: order.id }, bearer(ADMIN_USER));
    expect(admin.body.data!.order.id).toBe(order.id);
    const anonymous = await gql(stack.gatewayUrl, query, { id: order.id });
    expect(anonymous.body.data).toEqual({ order: null });
    expect(anonymous.body.errors![0]).toMatchObject({ path: ["order"], extensions: { code: "UNAUTHENTICATED" } });
  });

  it("an Order entity fetched directly from the orders subgraph is null unless it is the caller's", async () => {
    const { alice, bob, order } = await world();
    const call = (viewer: { userId: string; roles: string[]; scopes: string[] } | null) =>
      fetch(`${stack.subgraphs.orders.url}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [IDENTITY_HEADER]: signIdentity(TEST_AUTH_ENV.INTERNAL_AUTH_SECRET!, viewer),
        },
        body: JSON.stringify({
          query: `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id } } }`,
          variables: { r: [{ __typename: "Order", id: order.id }] },
        }),
      }).then(json);
    expect((await call({ userId: bob.id, roles: ["CUSTOMER"], scopes: [] })).data).toEqual({ _entities: [null] });
    expect((await call({ userId: alice.id, roles: ["CUSTOMER"], scopes: [] })).data).toEqual({ _entities: [{ id: order.id }] });
  });

  it("customers cannot change the catalog or stock, and nothing is written", async () => {
    const { bob, product } = await world();
    const customer = bearer(bob);
    const name = `Sneaky ${token()}`;
    const attempts = [
      [`mutation { createCategory(input: { name: "${name}" }) { id } }`, ["createCategory"]],
      [`mutation ($id: ID!) { updateProduct(id: $id, input: { name: "${name}" }) { id } }`, ["updateProduct"]],
      [`mutation ($id: ID!) { archiveProduct(id: $id) { id } }`, ["archiveProduct"]],
      [`mutation ($id: ID!) { adjustStock(productId: $id, delta: 5, reason: RECEIVED) { id } }`, ["adjustStock"]],
    ] as const;
    for (const [mutation, path] of attempts) {
      const { body } = await gql(stack.gatewayUrl, mutation, { id: product.id }, customer);
      expect(body.data).toBeNull();
      expect(body.errors![0]).toMatchObject({ path, extensions: { code: "FORBIDDEN" } });
    }
    expect(await stack.prisma.products.category.count({ where: { name } })).toBe(0);
    const after = await stack.prisma.products.product.findUniqueOrThrow({ where: { id: product.id } });
    expect(after).toMatchObject({ name: product.name, status: product.status });
    expect(await stack.prisma.inventory.stockMovement.count({ where: { productId: product.id } })).toBe(0);
  });

  it("listing users and stock movements is for admins only", async () => {
    const { bob, product } = await world();
    const users = await gql(stack.gatewayUrl, `{ users(first: 1) { totalCount } }`, {}, bearer(bob));
    expect(users.body.data).toEqual({ users: null });
    expect(users.body.errors![0]).toMatchObject({ path: ["users"], extensions: { code: "FORBIDDEN" } });
    const movements = await gql(
      stack.gatewayUrl,
      `query ($id: ID!) { product(id: $id) { inventory { onHand movements { delta } } } }`,
      { id: product.id },
      bearer(bob),
    );
    expect(movements.body.errors![0]).toMatchObject({ extensions: { code: "FORBIDDEN" } });
    expect(movements.body.errors![0]!.path).toEqual(["product", "inventory", "movements"]);
  });

  it("an admin token does change the catalog", async () => {
    const name = `Admin ${token()}`;
    const { body } = await gql(stack.gatewayUrl, `mutation { createCategory(input: { name: "${name}" }) { name } }`, {}, bearer(ADMIN_USER));
    expect(body).toEqual({ data: { createCategory: { name } } });
  });

  it("checks happen before any SQL runs for a refused mutation", async () => {
    const { bob } = await world();
    const counts = await countStatements(stack, async () => {
      const { body } = await gql(stack.gatewayUrl, `mutation { createCategory(input: { name: "x" }) { id } }`, {}, bearer(bob));
      expect(body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    });
    expect(counts).toEqual({ users: 0, products: 0, orders: 0, inventory: 0 });
  });
});

describe("RS256 with a published JWKS", () => {
  let rs: Stack;
  const pair = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
  const current = pair();
  const privatePem = current.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicPem = current.publicKey.export({ type: "spki", format: "pem" }).toString();
  beforeAll(async () => {
    rs = await startStack({ JWT_ALGORITHM: "RS256", JWT_PRIVATE_KEY: privatePem });
  });
  afterAll(async () => {
    await rs?.close();
  });

  it("login issues RS256 tokens the gateway verifies through the users subgraph's JWKS, which it republishes", async () => {
    const email = `rs-${token()}@test.example`;
    const registered = await gql(rs.gatewayUrl, REGISTER, { input: { email, password: PASSWORD, firstName: "R", lastName: "S" } });
    const accessToken = registered.body.data!.register.accessToken as string;
    const header = jwt.decode(accessToken, { complete: true })!.header;
    expect(header.alg).toBe("RS256");
    const me = await gql(rs.gatewayUrl, ME, {}, { authorization: `Bearer ${accessToken}` });
    expect(me.body.data!.me.email).toBe(email);

    const jwks = await json(await fetch(`${rs.gatewayUrl}/.well-known/jwks.json`));
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: "RSA", kid: header.kid, alg: "RS256", use: "sig" })]);
    expect(JSON.stringify(jwks)).not.toMatch(/"d"|"p"|"q"/);
  });

  it("an HS256 token 'signed' with the RSA public key, under the real key id, is refused", async () => {
    const kid = (await json(await fetch(`${rs.gatewayUrl}/.well-known/jwks.json`))).keys[0].kid;
    const confused = forge({}, { algorithm: "HS256", keyid: kid }, publicPem);
    const response = await fetch(`${rs.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${confused}` },
      body: JSON.stringify({ query: ME }),
    });
    expect(response.status).toBe(401);
    expect((await json(response)).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    const metrics = await (await fetch(`${rs.gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(/gateway_auth_failures_total\{reason="algorithm"\} [1-9]/);
  });

  it("a token signed by another RSA key, under our key id or an unknown one, is refused", async () => {
    const kid = (await json(await fetch(`${rs.gatewayUrl}/.well-known/jwks.json`))).keys[0].kid;
    const stranger = pair().privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    for (const keyid of [kid, "stranger"]) {
      const response = await fetch(`${rs.gatewayUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${forge({}, { algorithm: "RS256", keyid }, stranger)}` },
        body: JSON.stringify({ query: ME }),
      });
      expect(response.status).toBe(401);
    }
  });

  it("a flood of tokens naming made-up key ids does not lock genuine tokens out", async () => {
    const stranger = pair().privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    for (let i = 0; i < 30; i++) {
      const keyid = randomUUID().replace(/-/g, "").padEnd(43, "A").slice(0, 43);
      const response = await fetch(`${rs.gatewayUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${forge({}, { algorithm: "RS256", keyid }, stranger)}` },
        body: JSON.stringify({ query: ME }),
      });
      expect(response.status).toBe(401);
    }
    const email = `flood-${token()}@test.example`;
    const registered = await gql(rs.gatewayUrl, REGISTER, { input: { email, password: PASSWORD, firstName: "F", lastName: "L" } });
    const me = await gql(rs.gatewayUrl, ME, {}, { authorization: `Bearer ${registered.body.data!.register.accessToken}` });
    expect(me.body.data!.me.email).toBe(email);
  });
});
