import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { composeServices } from "@apollo/composition";
import { Supergraph } from "@apollo/federation-internals";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";
import { buildSchema, Kind, parse, type GraphQLSchema, type OperationDefinitionNode } from "graphql";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  checkOperation,
  costModelFromSupergraph,
  countTokens,
  DEFAULT_OPERATION_LIMITS,
  measureOperation,
  operationLimitsParseOptions,
  operationLimitsPlugin,
  type CostModel,
  type OperationLimits,
} from "../src/operation-limits.ts";

const DIRECTIVES = `
  directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | SCALAR | ENUM
  directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
`;

const TYPE_DEFS = `
  ${DIRECTIVES}
  type Query {
    hello: String
    item(id: ID): Item
    items(first: Int): [Item!]!
    products(first: Int, after: String): ProductConnection!
    top(limit: Int = 4): [Item!]! @listSize(slicingArguments: ["limit"])
    tags: [String!]!
    expensive: Int @cost(weight: 50)
    search(term: String): [SearchResult!]! @listSize(assumedSize: 3)
    node(id: ID!): Node
  }
  interface Node { id: ID! }
  type Item implements Node { id: ID! name: String child: Item children: [Item!]! }
  type Review implements Node @cost(weight: 5) { id: ID! body: String item: Item }
  type Product { id: ID! name: String reviews: [Review!]! }
  type ProductConnection { edges: [ProductEdge!]! pageInfo: PageInfo! }
  type ProductEdge { node: Product! }
  type PageInfo { hasNextPage: Boolean! }
  union SearchResult = Item | Product
`;

const schema = buildSchema(TYPE_DEFS);
const localModel = costModelFromSupergraph(TYPE_DEFS);

function measure(query: string, variables: Record<string, unknown> = {}, on: GraphQLSchema = schema, model: CostModel = localModel) {
  const document = parse(query);
  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (!operation) throw new Error("no operation in test query");
  return measureOperation({ schema: on, document, operation, variables, costModel: model, defaultListSize: 10 });
}

/** `query { ...L0 }` where each L<i> spreads L<i+1> ten times and the last selects `leaf`: 10^levels leaves. */
function fragmentBomb(levels: number, leaf = "hello"): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment L${i} on Query { ${`...L${i + 1} `.repeat(10)}}`);
  return `query Bomb { ...L0 } ${fragments.join(" ")} fragment L${levels} on Query { ${leaf} }`;
}

describe("countTokens", () => {
  it("counts lexer tokens without EOF or comments, like the parser does", () => {
    expect(countTokens("{ a b }", 100)).toBe(4);
    expect(countTokens("# only a comment\n{ a(first: 10) { ...F } }", 100)).toBe(12);
    expect(countTokens("", 100)).toBe(0);
    // Agrees with the parser's own limit at the boundary.
    expect(() => parse("{ a b }", operationLimitsParseOptions({ maxTokens: 4 }))).not.toThrow();
    expect(() => parse("{ a b }", operationLimitsParseOptions({ maxTokens: 3 }))).toThrow(/more th.. 3 tokens/);
  });

  it("stops at max + 1 instead of lexing a huge document", () => {
    const huge = `{ ${"hello ".repeat(200_000)}}`;
    expect(countTokens(huge, 2000)).toBe(2001);
    expect(countTokens(huge, 3)).toBe(4);
    // Lexing all 200,002 tokens takes tens of milliseconds; 2,001 take well under one.
  });

  it("ends the count at a syntax error; the parser reports that", () => {
    expect(countTokens('{ a "unterminated', 100)).toBe(2);
  });
});

describe("measureOperation: depth, aliases, root fields, directives", () => {
  it("counts nesting depth exactly, ignoring introspection subtrees", () => {
    expect(measure("{ item { child { child { child { name } } } } }").depth).toBe(5);
    expect(measure("{ hello }").depth).toBe(1);
    expect(measure("{ hello __schema { types { fields { type { ofType { ofType { name } } } } } } }").depth).toBe(1);
    expect(measure('{ __type(name: "Item") { fields { name } } }').depth).toBe(0);
    // __typename is a field like any other.
    expect(measure("{ item { __typename } }").depth).toBe(2);
    // Fragments add their depth where they are spread.
    expect(measure("{ item { ...Deep } } fragment Deep on Item { child { child { id } } }").depth).toBe(4);
    expect(measure("{ item { ... on Item { child { id } } } }").depth).toBe(3);
  });

  it("counts aliases, root fields and directives with fragments expanded", () => {
    const result = measure(`
      query Q @skip(if: false) {
        a: hello @include(if: true)
        b: hello
        ...F
        ...F @include(if: true)
        ... on Query { d: tags }
      }
      fragment F on Query { c: hello item { e: name @skip(if: false) } }
    `);
    // a, b + 2 x (c, e) + d
    expect(result.aliases).toBe(7);
    // a, b + 2 x (c, item) + d
    expect(result.rootFields).toBe(7);
    // @skip on the query, @include on a, @include on the second spread, 2 x @skip inside F
    expect(result.directives).toBe(5);
  });

  it("measures a fragment bomb in linear time and reports the expanded numbers", () => {
    const nine = measure(fragmentBomb(9, "x: hello"));
    expect(nine.rootFields).toBe(1_000_000_000);
    expect(nine.aliases).toBe(1_000_000_000);
    expect(nine.depth).toBe(1);
    // 10^30 does not fit a double exactly: counts saturate instead of turning into Infinity.
    const thirty = measure(fragmentBomb(30));
    expect(thirty.rootFields).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("does not loop on a fragment cycle (which validation would have rejected)", () => {
    const result = measure("{ ...A } fragment A on Query { hello ...B } fragment B on Query { tags ...A }");
    expect(result.rootFields).toBe(2);
    expect(result.depth).toBe(1);
  });
});

describe("measureOperation: cost", () => {
  const cost = (query: string, variables: Record<string, unknown> = {}) => measure(query, variables).cost;

  it("weighs objects 1, scalars 0 and @cost as declared", () => {
    expect(cost("{ hello tags }")).toBe(0);
    expect(cost("{ expensive }")).toBe(50);
    // item 1 + child 1
    expect(cost("{ item { name child { name } } }")).toBe(2);
    expect(cost("{ __typename __schema { types { name fields { name } } } }")).toBe(0);
  });

  it("multiplies a list field's subtree by `first`, a variable, or the default list size", () => {
    // items 1 + 7 x child 1
    expect(cost("{ items(first: 7) { name child { id } } }")).toBe(8);
    expect(cost("{ items { child { id } } }")).toBe(11);
    expect(cost("query ($n: Int) { items(first: $n) { child { id } } }", { n: 3 })).toBe(4);
    expect(cost("query ($n: Int) { items(first: $n) { child { id } } }", {})).toBe(11);
    expect(cost("query ($n: Int = 5) { items(first: $n) { child { id } } }", {})).toBe(6);
    // A list of scalars costs nothing, however long.
    expect(cost("{ items(first: 100) { id name } }")).toBe(1);
  });

  it("uses @listSize slicing arguments and their schema defaults", () => {
    expect(cost("{ top { child { id } } }")).toBe(5);
    expect(cost("{ top(limit: 2) { child { id } } }")).toBe(3);
  });

  it("multiplies a connection's whole subtree by `first` without counting its edges list again", () => {
    // reviews (Review @cost 5) = 5 + 10 x item 1 = 15; node = 1 + 15; edges = 1 + 16 (the page,
    // not multiplied again); pageInfo = 1; products = 1 + 20 x (17 + 1)
    const query = "{ products(first: 20) { edges { node { name reviews { body item { id } } } } pageInfo { hasNextPage } } }";
    expect(cost(query)).toBe(361);
    // Without `first` the connection is assumed to hold defaultListSize items.
    expect(cost("{ products { edges { node { id } } } }")).toBe(1 + 10 * 2);
  });

  it("takes the costliest member of a union or interface, not the sum", () => {
    // Item branch: 2; Product branch: reviews 5 + 10 x 0 = 5; search = 1 + 3 (assumedSize) x max(2, 5)
    expect(cost("{ search { ... on Item { child { id } c2: child { id } } ... on Product { reviews { body } } } }")).toBe(16);
    // Fields on the interface count for every member; the Item fragment adds 1 for Item only.
    expect(cost('{ node(id: "1") { id ... on Item { child { id } } } }')).toBe(2);
    // A fragment on the interface inside the union applies to the members that implement it.
    expect(cost("{ search { ... on Node { ... on Item { child { id } } } ...P } } fragment P on Product { name }")).toBe(4);
  });
});

describe("costModelFromSupergraph", () => {
  function supergraph(costImport: string, cost: string) {
    const products = parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", ${costImport}, "@listSize"])
      type Query {
        products(first: Int = 5): ProductConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
        top(limit: Int): [Product!]! @listSize(assumedSize: 7, slicingArguments: ["limit"], requireOneSlicingArgument: false)
        expensive: Int @${cost}(weight: 50)
      }
      type ProductConnection { edges: [ProductEdge!]! }
      type ProductEdge { node: Product! }
      type Product @key(fields: "id") @${cost}(weight: 3) { id: ID! name: String @${cost}(weight: 2) }
    `);
    const inventory = parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", ${costImport}])
      type Product @key(fields: "id") { id: ID! stock: Int @${cost}(weight: 4) }
    `);
    const result = composeServices([
      { name: "products", url: "http://products.invalid/graphql", typeDefs: products },
      { name: "inventory", url: "http://inventory.invalid/graphql", typeDefs: inventory },
    ]);
    if (result.errors) throw new Error(result.errors.map((error) => error.message).join("\n"));
    return result.supergraphSdl;
  }

  const expectedWeights = [
    ["Query.expensive", 50],
    // @cost on Product applies to every field returning Product without a weight of its own.
    ["Query.top", 3],
    ["ProductEdge.node", 3],
    ["Product.name", 2],
    ["Product.stock", 4],
  ];
  const expectedListSizes = [
    ["Query.products", { slicingArguments: ["first"] }],
    ["Query.top", { assumedSize: 7, slicingArguments: ["limit"] }],
  ];

  it("reads @cost and @listSize from a composed supergraph", () => {
    const sdl = supergraph('"@cost"', "cost");
    // @cost is the cost spec's own name, so the link spec lets composition leave it out of the
    // import: only the namespace rule finds it.
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize"])');
    const model = costModelFromSupergraph(sdl);
    expect([...model.weights].sort()).toEqual([...expectedWeights].sort());
    expect([...model.listSizes].sort()).toEqual([...expectedListSizes].sort());

    const api = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
    const on = (query: string) => measure(query, {}, api, model).cost;
    // node 3 + name 2 + stock 4 = 9; edges 1 + 9 (the page); products 1 + 20 x 10
    expect(on("{ products(first: 20) { edges { node { name stock } } } }")).toBe(201);
    // The schema default `first: 5` applies when the argument is left out.
    expect(on("{ products { edges { node { name stock } } } }")).toBe(51);
    // top 3 + assumedSize 7 x name 2
    expect(on("{ top { name } expensive }")).toBe(17 + 50);
  });

  it("follows an `as:` rename of the imported directive", () => {
    const sdl = supergraph('{ name: "@cost", as: "@price" }', "price");
    expect(sdl).toContain('import: [{name: "@cost", as: "@price"}, "@listSize"]');
    const model = costModelFromSupergraph(sdl);
    expect([...model.weights].sort()).toEqual([...expectedWeights].sort());
    expect([...model.listSizes].sort()).toEqual([...expectedListSizes].sort());
  });

  it("resolves non-imported names through the link namespace", () => {
    const model = costModelFromSupergraph(`
      schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/cost/v0.1", as: "demand") { query: Query }
      type Query {
        a: Int @demand(weight: 7)
        b: [Int] @demand__listSize(assumedSize: 2)
        c: Int @cost(weight: 9)
      }
    `);
    // `@cost` is not the cost spec's name in this document, so `c` has no weight.
    expect([...model.weights]).toEqual([["Query.a", 7]]);
    expect([...model.listSizes]).toEqual([["Query.b", { assumedSize: 2 }]]);
  });
});

describe("checkOperation", () => {
  const within = { depth: 12, aliases: 30, rootFields: 20, directives: 50, cost: 10_000 };

  it("accepts a measure at every limit and names the first one exceeded", () => {
    expect(checkOperation(within, DEFAULT_OPERATION_LIMITS)).toBeNull();
    expect(checkOperation({ ...within, depth: 15 }, DEFAULT_OPERATION_LIMITS)).toEqual({
      code: "MAX_DEPTH_EXCEEDED",
      message: "The operation is nested 15 levels deep; the limit is 12.",
      limit: 12,
      actual: 15,
    });
    expect(checkOperation({ ...within, aliases: 31 }, DEFAULT_OPERATION_LIMITS)?.message).toBe(
      "The operation uses 31 aliases; the limit is 30.",
    );
    expect(checkOperation({ ...within, rootFields: 21 }, DEFAULT_OPERATION_LIMITS)?.message).toBe(
      "The operation selects 21 root fields; the limit is 20.",
    );
    expect(checkOperation({ ...within, directives: 51 }, DEFAULT_OPERATION_LIMITS)?.message).toBe(
      "The operation uses 51 directives; the limit is 50.",
    );
    expect(checkOperation({ ...within, cost: 10_001 }, DEFAULT_OPERATION_LIMITS)).toMatchObject({
      code: "MAX_COST_EXCEEDED",
      message: "The operation has an estimated cost of 10001; the limit is 10000.",
    });
  });
});

describe("operationLimitsPlugin over HTTP", () => {
  const limits: OperationLimits = {
    maxDepth: 5,
    maxAliases: 5,
    maxRootFields: 5,
    maxDirectives: 5,
    maxTokens: 500,
    maxCost: 100,
    defaultListSize: 10,
  };
  let resolverCalls = 0;
  let rejections: string[] = [];
  const warnings: string[] = [];

  const counted =
    <A extends unknown[], R>(resolve: (...args: A) => R) =>
    (...args: A): R => {
      resolverCalls++;
      return resolve(...args);
    };
  const item = (id: string) => ({ id, name: `item ${id}` });
  const resolvers = {
    Query: {
      hello: counted(() => "world"),
      tags: counted(() => ["a"]),
      expensive: counted(() => 1),
      item: counted(() => item("1")),
      items: counted((_: unknown, args: { first?: number | null }) =>
        Array.from({ length: args.first ?? 2 }, (_unused, i) => item(String(i))),
      ),
      node: counted(() => item("1")),
    },
    Item: { child: (parent: { id: string }) => item(`${parent.id}.c`), children: () => [] },
    Node: { __resolveType: () => "Item" },
    SearchResult: { __resolveType: () => "Item" },
  };

  async function serve(parseOptions: boolean) {
    const apollo = new ApolloServer({
      typeDefs: TYPE_DEFS,
      resolvers,
      ...(parseOptions ? { parseOptions: operationLimitsParseOptions(limits) } : {}),
      logger: {
        debug: () => {},
        info: () => {},
        warn: (message: string) => void warnings.push(message),
        error: () => {},
      },
      plugins: [
        operationLimitsPlugin({
          limits,
          costModel: localModel,
          onReject: (code) => void rejections.push(code),
        }),
      ],
    });
    await apollo.start();
    const app = express();
    // Larger than the gateway's 1 MB so the huge document reaches Apollo Server at all.
    app.use("/graphql", express.json({ limit: "2mb" }), expressMiddleware(apollo));
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    return { apollo, server, url };
  }

  let main: { apollo: ApolloServer; server: Server; url: string };
  beforeAll(async () => {
    main = await serve(true);
  });
  afterAll(async () => {
    await new Promise((resolve) => main?.server.close(resolve));
    await main?.apollo.stop();
  });
  beforeEach(() => {
    resolverCalls = 0;
    rejections = [];
  });

  async function post(query: string, variables?: Record<string, unknown>, url = main.url) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as any };
  }

  async function expectRejected(
    response: { status: number; body: any },
    code: string,
    numbers?: { limit: number; actual: number },
  ) {
    expect(response.status).toBe(400);
    expect(response.body).not.toHaveProperty("data");
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors[0].extensions.code).toBe(code);
    if (numbers) expect(response.body.errors[0].extensions).toMatchObject(numbers);
    expect(resolverCalls).toBe(0);
  }

  it("answers a query within every limit", async () => {
    const response = await post("{ hello item { id name child { name } } }");
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: { hello: "world", item: { id: "1", name: "item 1", child: { name: "item 1.c" } } } });
    expect(resolverCalls).toBe(2);
    expect(rejections).toEqual([]);
  });

  it("rejects deep nesting", async () => {
    const response = await post("{ item { child { child { child { child { child { name } } } } } } }");
    await expectRejected(response, "MAX_DEPTH_EXCEEDED", { limit: 5, actual: 7 });
    expect(response.body.errors[0].message).toBe("The operation is nested 7 levels deep; the limit is 5.");
    expect(rejections).toEqual(["MAX_DEPTH_EXCEEDED"]);
  });

  it("rejects an alias flood", async () => {
    const response = await post("{ item { a1: name a2: name a3: name a4: name a5: name a6: id } }");
    await expectRejected(response, "MAX_ALIASES_EXCEEDED", { limit: 5, actual: 6 });
    expect(rejections).toEqual(["MAX_ALIASES_EXCEEDED"]);
  });

  it("rejects too many root fields", async () => {
    const response = await post('{ hello tags expensive item { id } items(first: 1) { id } node(id: "1") { id } }');
    await expectRejected(response, "MAX_ROOT_FIELDS_EXCEEDED", { limit: 5, actual: 6 });
    expect(rejections).toEqual(["MAX_ROOT_FIELDS_EXCEEDED"]);
  });

  it("rejects too many directives", async () => {
    const response = await post(
      "{ hello @include(if: true) @skip(if: false) item @include(if: true) { name @include(if: true) id @skip(if: false) child @include(if: true) { id } } }",
    );
    await expectRejected(response, "MAX_DIRECTIVES_EXCEEDED", { limit: 5, actual: 6 });
    expect(rejections).toEqual(["MAX_DIRECTIVES_EXCEEDED"]);
  });

  it("rejects a 1 MB document by its token count, without parsing it", async () => {
    const query = `{ ${"hello ".repeat(175_000)}}`;
    expect(query.length).toBeGreaterThan(1_000_000);
    const response = await post(query);
    await expectRejected(response, "MAX_TOKENS_EXCEEDED", { limit: 500, actual: 501 });
    expect(response.body.errors[0].message).toBe("The document has more than 500 tokens; the limit is 500.");
    expect(rejections).toEqual(["MAX_TOKENS_EXCEEDED"]);
  });

  it("rejects a long document sent with GET the same way", async () => {
    const url = new URL(main.url);
    url.searchParams.set("query", `{ ${"hello ".repeat(600)}}`);
    const response = await fetch(url, { headers: { "apollo-require-preflight": "true" } });
    await expectRejected({ status: response.status, body: await response.json() }, "MAX_TOKENS_EXCEEDED", {
      limit: 500,
      actual: 501,
    });
  });

  it("lets a document of exactly maxTokens through", async () => {
    // `{` + 498 fields + `}` = 500 tokens; within every other limit? No: 498 root fields. The
    // answer must then come from the root-field check, which runs only after a successful parse.
    const response = await post(`{ ${"hello ".repeat(498)}}`);
    await expectRejected(response, "MAX_ROOT_FIELDS_EXCEEDED", { limit: 5, actual: 498 });
  });

  it("rejects a fragment bomb quickly with the expanded count", async () => {
    const response = await post(fragmentBomb(9));
    await expectRejected(response, "MAX_ROOT_FIELDS_EXCEEDED", { limit: 5, actual: 1_000_000_000 });
    expect(rejections).toEqual(["MAX_ROOT_FIELDS_EXCEEDED"]);
  });

  it("leaves circular fragments to validation, without hanging", async () => {
    const response = await post("{ ...A } fragment A on Query { hello ...B } fragment B on Query { ...A }");
    expect(response.status).toBe(400);
    expect(response.body).not.toHaveProperty("data");
    expect(response.body.errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(resolverCalls).toBe(0);
    expect(rejections).toEqual([]);
  });

  it("prices `first` from the variables", async () => {
    const query = "query Items($n: Int) { items(first: $n) { id child { id } } }";
    // 1 + 5 x child 1 = 6
    const small = await post(query, { n: 5 });
    expect(small.status).toBe(200);
    expect(small.body.data.items).toHaveLength(5);
    // No value: defaultListSize 10 is assumed, 11 <= 100 (the resolver's own default is 2).
    const unset = await post(query, {});
    expect(unset.status).toBe(200);
    expect(unset.body.data.items).toHaveLength(2);
    expect(resolverCalls).toBe(2);

    resolverCalls = 0;
    const large = await post(query, { n: 150 });
    await expectRejected(large, "MAX_COST_EXCEEDED", { limit: 100, actual: 151 });
    expect(large.body.errors[0].message).toBe("The operation has an estimated cost of 151; the limit is 100.");
    expect(rejections).toEqual(["MAX_COST_EXCEEDED"]);
  });

  it("still answers MAX_TOKENS_EXCEEDED, and warns, when parseOptions is not wired", async () => {
    const unwired = await serve(false);
    try {
      // Small enough to parse and validate in full: this path has no early abort.
      const response = await post(`{ ${"hello ".repeat(600)}}`, undefined, unwired.url);
      await expectRejected(response, "MAX_TOKENS_EXCEEDED", { limit: 500, actual: 501 });
      expect(rejections).toEqual(["MAX_TOKENS_EXCEEDED"]);
      expect(warnings.some((warning) => warning.includes("operationLimitsParseOptions"))).toBe(true);
    } finally {
      await new Promise((resolve) => unwired.server.close(resolve));
      await unwired.apollo.stop();
    }
  });
});
