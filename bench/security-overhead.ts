// npm run bench: what the security layer costs per request, as ratios measured in this run.
//
// Every request pays: one access-token check at the gateway, one identity signature, one identity
// check per subgraph call, and the operation-limit measurement. The baseline is the same work done
// the straightforward way (jsonwebtoken handed the secret as a string, which re-derives the key on
// every call), so the ratio shows what preparing keys once buys, on this machine, in this run.
import { createSecretKey, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Supergraph } from "@apollo/federation-internals";
import { createTokenIssuer, createTokenVerifier, loadAuthConfig, REPO_ROOT, signIdentity, verifyIdentity } from "@catalog/common";
import { parse, type OperationDefinitionNode } from "graphql";
import jwt from "jsonwebtoken";
import { costModelFromSupergraph, countTokens, measureOperation } from "../gateway/src/operation-limits.ts";

const ITERATIONS = 5_000;
const print = (line: string) => process.stdout.write(`${line}\n`);
/** Subgraph calls of a typical cross-subgraph query (the README's examples make 3 to 5). */
const SUBGRAPH_CALLS = 4;

async function perCall(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(); // warm-up
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) await fn();
  return ((performance.now() - started) / ITERATIONS) * 1000;
}

const env = { JWT_SECRET: randomBytes(32).toString("hex"), INTERNAL_AUTH_SECRET: randomBytes(32).toString("hex") };
const config = loadAuthConfig(env);
const user = { id: "6f1c2a4e-3b5d-4c7e-8f90-123456789abc", roles: ["CUSTOMER"] };
const accessToken = createTokenIssuer(config).signAccessToken(user).token;
const verifier = createTokenVerifier(config);
const viewer = await verifier.verify(accessToken);
const identity = signIdentity(env.INTERNAL_AUTH_SECRET, viewer);

const sdl = readFileSync(path.join(REPO_ROOT, "schema", "supergraph.graphql"), "utf8");
const schema = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
const costModel = costModelFromSupergraph(sdl);
const query = `query ($id: ID!) { user(id: $id) { fullName orders(first: 20) { edges { node { total { amount }
  items { quantity product { name inStock shippingEstimate { minDays } reviews(first: 3) { edges { node { rating author { fullName } } } } } } } } } } }`;
const document = parse(query);
const operation = document.definitions[0] as OperationDefinitionNode;

const ours = {
  "access token check (HS256)": await perCall(() => verifier.verify(accessToken)),
  "identity signature": await perCall(() => signIdentity(env.INTERNAL_AUTH_SECRET, viewer)),
  "identity check (one subgraph call)": await perCall(() => verifyIdentity(config.internalSecrets, identity)),
  "operation limits (tokens + depth/aliases/cost)": await perCall(() => {
    countTokens(query, 2_000);
    measureOperation({ schema, document, operation, variables: { id: user.id }, costModel, defaultListSize: 10 });
  }),
};
const naive = {
  "access token check (HS256)": await perCall(() =>
    jwt.verify(accessToken, env.JWT_SECRET, { algorithms: ["HS256"], issuer: "catalog", audience: "catalog-api" }),
  ),
  "identity signature": await perCall(() => jwt.sign({ rid: "bench" }, env.INTERNAL_AUTH_SECRET, { algorithm: "HS256", expiresIn: 120 })),
  "identity check (one subgraph call)": await perCall(() => jwt.verify(identity, env.INTERNAL_AUTH_SECRET, { algorithms: ["HS256"] })),
};
// Keeps the prepared-key path honest: the same library with a KeyObject, outside our wrappers.
const rawKeyObject = await perCall(() => jwt.verify(identity, createSecretKey(Buffer.from(env.INTERNAL_AUTH_SECRET)), { algorithms: ["HS256"] }));

const perRequest = (t: Record<string, number>) =>
  (t["access token check (HS256)"] ?? 0) + (t["identity signature"] ?? 0) + SUBGRAPH_CALLS * (t["identity check (one subgraph call)"] ?? 0);
const oursRequest = perRequest(ours) + ours["operation limits (tokens + depth/aliases/cost)"];
const naiveRequest = perRequest(naive) + ours["operation limits (tokens + depth/aliases/cost)"];

print(`Security overhead per request (${ITERATIONS} iterations each, µs per call)\n`);
for (const [name, value] of Object.entries(ours)) {
  const baseline = naive[name as keyof typeof naive];
  print(`  ${name.padEnd(48)} ${value.toFixed(1).padStart(8)}${baseline ? `   (string-secret baseline ${baseline.toFixed(1)}, ${(baseline / value).toFixed(1)}x)` : ""}`);
}
print(`  ${"jsonwebtoken + KeyObject created per call".padEnd(48)} ${rawKeyObject.toFixed(1).padStart(8)}`);
print(`\n  per request with ${SUBGRAPH_CALLS} subgraph calls: ${oursRequest.toFixed(0)} µs (baseline ${naiveRequest.toFixed(0)} µs, ${(naiveRequest / oursRequest).toFixed(1)}x less CPU)`);
