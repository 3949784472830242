import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { bearer } from "../../test/support/auth.ts";
import { createUser, token } from "../../test/support/fixtures.ts";
import { countStatements, gql, json, type Stack, startExtraGateway, startStack } from "../../test/support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** Runs `request` and asserts it was refused with `status`/`code` before any subgraph ran SQL. */
async function refusedBeforeExecution(request: () => Promise<Response>, status: number, code: string) {
  let body: any;
  const counts = await countStatements(stack, async () => {
    const response = await request();
    expect(response.status).toBe(status);
    body = await json(response);
  });
  expect(body.data).toBeUndefined();
  expect(body.errors[0].extensions.code).toBe(code);
  expect(counts).toEqual({ users: 0, products: 0, orders: 0, inventory: 0 });
  return body;
}

describe("operation limits, checked before any subgraph is called", () => {
  it("deep nesting -> 400 MAX_DEPTH_EXCEEDED", async () => {
    let selection = "id";
    for (let i = 0; i < 14; i++) selection = `parent { ${selection} }`;
    const body = await refusedBeforeExecution(() => post(stack.gatewayUrl, { query: `{ categories { ${selection} } }` }), 400, "MAX_DEPTH_EXCEEDED");
    expect(body.errors[0]).toMatchObject({ message: "The operation is nested 16 levels deep; the limit is 12.", extensions: { limit: 12, actual: 16 } });
  });

  it("an alias flood -> 400 MAX_ALIASES_EXCEEDED", async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: id`).join(" ");
    const body = await refusedBeforeExecution(() => post(stack.gatewayUrl, { query: `{ categories { ${aliases} } }` }), 400, "MAX_ALIASES_EXCEEDED");
    expect(body.errors[0].extensions).toMatchObject({ limit: 30, actual: 40 });
  });

  it("too many root fields -> 400 MAX_ROOT_FIELDS_EXCEEDED", async () => {
    const fields = Array.from({ length: 21 }, (_, i) => `c${i}: categories { id }`).join(" ");
    // 21 root fields are also 21 aliases (under 30), so the root-field limit is what trips.
    await refusedBeforeExecution(() => post(stack.gatewayUrl, { query: `{ ${fields} }` }), 400, "MAX_ROOT_FIELDS_EXCEEDED");
  });

  it("a directive flood -> 400 MAX_DIRECTIVES_EXCEEDED", async () => {
    // A field may carry a directive once, so the flood rides on inline fragments.
    const directives = Array.from({ length: 51 }, () => "... @include(if: true) { id }").join(" ");
    await refusedBeforeExecution(() => post(stack.gatewayUrl, { query: `{ categories { ${directives} } }` }), 400, "MAX_DIRECTIVES_EXCEEDED");
  });

  it("a huge document -> 400 MAX_TOKENS_EXCEEDED (under the body limit, far over the token limit)", async () => {
    const query = `{ categories { ${"id ".repeat(150_000)} } }`;
    const body = await refusedBeforeExecution(() => post(stack.gatewayUrl, { query }), 400, "MAX_TOKENS_EXCEEDED");
    expect(body.errors[0].extensions).toMatchObject({ limit: 2000, actual: 2001 });
  });

  it("an expensive query -> 400 MAX_COST_EXCEEDED, with list sizes taken from `first`", async () => {
    const query = `query ($n: Int) { products(first: $n) { edges { node { reviews(first: 100) { edges { node { author { fullName } } } } } } } }`;
    const body = await refusedBeforeExecution(() => post(stack.gatewayUrl, { query, variables: { n: 100 } }), 400, "MAX_COST_EXCEEDED");
    expect(body.errors[0].extensions.actual).toBeGreaterThan(10_000);
    // The same shape with small pages is well within budget.
    const small = await gql(stack.gatewayUrl, query, { n: 2 });
    expect(small.status).toBe(200);
    expect(small.body.errors).toBeUndefined();
  });

  it("a fragment bomb is measured expanded (memoized, so without hanging) -> 400", async () => {
    // Ten distinct aliases per level: 11,110 aliased fields once expanded. (Repeating one spread
    // would be no bomb: GraphQL collects a fragment once per selection set.)
    const fragments = [`fragment F0 on Category { id }`];
    for (let i = 1; i <= 4; i++) {
      fragments.push(`fragment F${i} on Category { ${Array.from({ length: 10 }, (_, j) => `a${j}: parent { ...F${i - 1} }`).join(" ")} }`);
    }
    const query = `{ categories { ...F4 } } ${fragments.join(" ")}`;
    const body = await refusedBeforeExecution(() => post(stack.gatewayUrl, { query }), 400, "MAX_ALIASES_EXCEEDED");
    expect(body.errors[0].extensions.actual).toBe(10 + 100 + 1000 + 10_000);
  });

  it("circular fragments -> 400 GRAPHQL_VALIDATION_FAILED", async () => {
    const query = `{ categories { ...A } } fragment A on Category { children { ...B } } fragment B on Category { parent { ...A } }`;
    await refusedBeforeExecution(() => post(stack.gatewayUrl, { query }), 400, "GRAPHQL_VALIDATION_FAILED");
  });

  it("limits are configurable: a gateway with MAX_DEPTH=2 refuses depth 3", async () => {
    const strict = await startExtraGateway(stack, { MAX_DEPTH: "2", REDIS_URL: inject("redisUrl"), REDIS_KEY_PREFIX: `${inject("redisPrefix")}strict:` });
    try {
      const response = await post(strict.url, { query: `{ categories { parent { id } } }` });
      expect(response.status).toBe(400);
      expect((await json(response)).errors[0].extensions).toMatchObject({ code: "MAX_DEPTH_EXCEEDED", limit: 2, actual: 3 });
      expect((await post(strict.url, { query: `{ categories { id } }` })).status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});

describe("HTTP limits", () => {
  it("an oversized body -> 413 PAYLOAD_TOO_LARGE, nothing written", async () => {
    const name = `Big ${token()}`;
    const response = await post(
      stack.gatewayUrl,
      { query: `mutation ($d: String) { createCategory(input: { name: "${name}", slug: $d }) { id } }`, variables: { d: "x".repeat(2_000_000) } },
      bearer({ id: randomUUID(), roles: ["ADMIN"] }),
    );
    expect(response.status).toBe(413);
    expect((await json(response)).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    expect(await stack.prisma.products.category.count({ where: { name } })).toBe(0);
  });

  it("an oversized header -> 431 before any of our code runs", async () => {
    const response = await post(stack.gatewayUrl, { query: "{ categories { id } }" }, { "x-filler": "y".repeat(20_000) });
    expect(response.status).toBe(431);
  });

  it("a batched array -> 400 BATCHING_DISABLED, none of it runs", async () => {
    const body = await refusedBeforeExecution(
      () => post(stack.gatewayUrl, [{ query: "{ categories { id } }" }, { query: "{ categories { slug } }" }]),
      400,
      "BATCHING_DISABLED",
    );
    expect(body.errors[0].message).toContain("one operation per request");
  });

  it("with MAX_BATCH_OPERATIONS=2, batches of 2 run and batches of 3 are refused", async () => {
    const batching = await startExtraGateway(stack, { MAX_BATCH_OPERATIONS: "2" });
    try {
      const two = await post(batching.url, [{ query: "{ categories { id } }" }, { query: "{ categories { slug } }" }]);
      expect(two.status).toBe(200);
      expect(await json(two)).toHaveLength(2);
      const three = await post(batching.url, Array.from({ length: 3 }, () => ({ query: "{ categories { id } }" })));
      expect(three.status).toBe(400);
      expect((await json(three)).errors[0].extensions.code).toBe("BATCH_TOO_LARGE");
    } finally {
      await batching.close();
    }
  });
});

describe("deadlines", () => {
  /** An HTTP server that accepts requests and never answers: a hung subgraph. */
  let hung: Server;
  let hungUrl: string;
  beforeAll(async () => {
    hung = createServer(() => {});
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    hungUrl = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    hung.closeAllConnections();
    await new Promise((resolve) => hung.close(resolve));
  });

  it.each([
    ["a per-subgraph timeout", { SUBGRAPH_TIMEOUT_MS: "300" }],
    ["the request deadline", { REQUEST_TIMEOUT_MS: "300", SUBGRAPH_TIMEOUT_MS: "60000" }],
  ])("%s ends a hung subgraph call with GATEWAY_TIMEOUT, naming no address", async (_name, env) => {
    const slow = await startExtraGateway(stack, { ...env, PRODUCTS_SUBGRAPH_URL: hungUrl });
    try {
      const response = await post(slow.url, { query: "{ categories { id } }" });
      const body = await json(response);
      expect(body.data).toBeNull();
      expect(body.errors[0]).toMatchObject({ message: "The products service did not answer in time.", extensions: { code: "GATEWAY_TIMEOUT" } });
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|http:|localhost/);
    } finally {
      await slow.close();
    }
  });

  it("an unreachable subgraph -> SERVICE_UNAVAILABLE, naming no address", async () => {
    const down = await startExtraGateway(stack, { PRODUCTS_SUBGRAPH_URL: "http://127.0.0.1:1/graphql" });
    try {
      const body = await json(await post(down.url, { query: "{ categories { id } }" }));
      expect(body.errors[0]).toMatchObject({ extensions: { code: "SERVICE_UNAVAILABLE" } });
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|http:|ECONNREFUSED/);
    } finally {
      await down.close();
    }
  });
});

describe("rate limits, counted in Redis", () => {
  const limited = (env: Record<string, string> = {}) =>
    startExtraGateway(stack, {
      REDIS_URL: inject("redisUrl"),
      REDIS_KEY_PREFIX: `${inject("redisPrefix")}rl-${randomUUID()}:`,
      RATE_LIMIT_ANONYMOUS_POINTS: "3",
      RATE_LIMIT_POINTS: "5",
      ...env,
    });

  it("anonymous callers share a per-IP budget; a signed-in user has their own; 429 carries Retry-After", async () => {
    const gateway = await limited();
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await post(gateway.url, { query: "{ categories { id } }" });
        expect(ok.status).toBe(200);
        expect(ok.headers.get("ratelimit-remaining")).toBe(String(2 - i));
      }
      let body: any;
      const counts = await countStatements(stack, async () => {
        const refused = await post(gateway.url, { query: "{ categories { id } }" });
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        body = await json(refused);
      });
      expect(body.errors[0].extensions.code).toBe("RATE_LIMITED");
      expect(counts).toEqual({ users: 0, products: 0, orders: 0, inventory: 0 });

      const user = await createUser(stack.prisma.users);
      const signedIn = await post(gateway.url, { query: "{ categories { id } }" }, bearer(user));
      expect(signedIn.status).toBe(200);
      expect(signedIn.headers.get("ratelimit-limit")).toBe("5");
    } finally {
      await gateway.close();
    }
  });

  it("requests with bad tokens count against the IP's budget: 401 until it is spent, then 429", async () => {
    const gateway = await limited({ RATE_LIMIT_ANONYMOUS_POINTS: "2" });
    try {
      const bad = { authorization: "Bearer not.a.token" };
      expect((await post(gateway.url, { query: "{ categories { id } }" }, bad)).status).toBe(401);
      expect((await post(gateway.url, { query: "{ categories { id } }" }, bad)).status).toBe(401);
      const refused = await post(gateway.url, { query: "{ categories { id } }" }, bad);
      expect(refused.status).toBe(429);
      expect((await json(refused)).errors[0].extensions.code).toBe("RATE_LIMITED");
    } finally {
      await gateway.close();
    }
  });

  it("two gateway instances draw on one budget", async () => {
    const prefix = `${inject("redisPrefix")}shared-${randomUUID()}:`;
    const env = { REDIS_URL: inject("redisUrl"), REDIS_KEY_PREFIX: prefix, RATE_LIMIT_ANONYMOUS_POINTS: "2" };
    const [a, b] = await Promise.all([startExtraGateway(stack, env), startExtraGateway(stack, env)]);
    try {
      expect((await post(a.url, { query: "{ categories { id } }" })).status).toBe(200);
      expect((await post(b.url, { query: "{ categories { id } }" })).status).toBe(200);
      expect((await post(a.url, { query: "{ categories { id } }" })).status).toBe(429);
      expect((await post(b.url, { query: "{ categories { id } }" })).status).toBe(429);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("sign-in attempts have a small budget of their own, and one request holds one sign-in", async () => {
    const gateway = await limited({ SIGNIN_RATE_LIMIT_POINTS: "2", RATE_LIMIT_ANONYMOUS_POINTS: "100" });
    const login = `mutation { login(email: "nobody@test.example", password: "wrong password") { accessToken } }`;
    try {
      const twoAtOnce = await post(gateway.url, {
        query: `mutation { a: login(email: "x@test.example", password: "p1p1p1p1p1") { accessToken } b: login(email: "x@test.example", password: "p2p2p2p2p2") { accessToken } }`,
      });
      expect(twoAtOnce.status).toBe(400);
      expect((await json(twoAtOnce)).errors[0].extensions.code).toBe("BAD_USER_INPUT");
      for (let i = 0; i < 2; i++) {
        const attempt = await json(await post(gateway.url, { query: login }));
        expect(attempt.errors[0].extensions.code).toBe("UNAUTHENTICATED");
      }
      const refused = await post(gateway.url, { query: login });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await json(refused)).errors[0].extensions.code).toBe("RATE_LIMITED");
      // Reading the catalog is not a sign-in and still works.
      expect((await post(gateway.url, { query: "{ categories { id } }" })).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it("with Redis unreachable the gateway keeps serving, and counts every request let through", async () => {
    const gateway = await startExtraGateway(stack, { REDIS_URL: "redis://127.0.0.1:1", RATE_LIMIT_ANONYMOUS_POINTS: "1" });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await post(gateway.url, { query: "{ categories { id } }" });
        expect(response.status).toBe(200);
        expect((await json(response)).errors).toBeUndefined();
      }
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/gateway_rate_limit_fail_open_total 3/);
    } finally {
      await gateway.close();
    }
  });
});
