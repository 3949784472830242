import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { REPO_ROOT, SUBGRAPHS } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import {
  COMPILED_CONDITION,
  bannerUrl,
  spawnNode,
  startSeparateServices,
  SUBGRAPH_NAMES,
  waitReady,
  type ServiceName,
  type ServiceProcess,
} from "../scripts/compiled-services.ts";
import { TEST_AUTH_ENV } from "./support/auth.ts";
import { token } from "./support/fixtures.ts";
import { gql } from "./support/stack.ts";

// What production runs: `npm run build`'s JavaScript on plain node, no tsx, no TypeScript. A .ts
// file reached at run time (an import the build left pointing at sources, a package export without
// its compiled condition) fails here, because Node 20 cannot load .ts without tsx.

/** The environment a container gets: nothing inherited from the test process but PATH. */
function productionEnv(): Record<string, string | undefined> {
  const urls = inject("databaseUrls");
  return {
    PATH: process.env.PATH,
    NODE_ENV: "production",
    ...Object.fromEntries(SUBGRAPHS.map((name) => [`${name.toUpperCase()}_DATABASE_URL`, urls[name]])),
    REDIS_URL: inject("redisUrl"),
    REDIS_KEY_PREFIX: `${inject("redisPrefix")}compiled:`,
    ...TEST_AUTH_ENV,
    LOG_LEVEL: "warn",
    RATE_LIMIT_ENABLED: "false",
  };
}

const REGISTER = `mutation ($input: RegisterInput!) { register(input: $input) { accessToken } }`;
const ME = `{ me { email orders(first: 1) { totalCount } } products(first: 1) { totalCount } }`;

/** Signs a new customer up and reads them back: users (argon2, tokens), orders and products. */
async function signUpAndRead(gatewayUrl: string): Promise<void> {
  const email = `compiled-${token()}@test.example`;
  const input = { email, password: "compiled-build-password", firstName: "Compiled", lastName: "Build" };
  const registered = await gql(gatewayUrl, REGISTER, { input });
  expect(registered.body.errors, JSON.stringify(registered.body.errors)).toBeUndefined();
  const headers = { authorization: `Bearer ${registered.body.data!.register.accessToken}` };
  const read = await gql(gatewayUrl, ME, {}, headers);
  expect(read.body.errors, JSON.stringify(read.body.errors)).toBeUndefined();
  expect(read.body.data!.me).toEqual({ email, orders: { totalCount: 0 } });
  expect(read.body.data!.products.totalCount).toEqual(expect.any(Number));
}

// Generous: five Node processes loading Apollo and Prisma on two busy cores. Readiness is polled,
// so a healthy start ends the wait as soon as it is up.
const STARTS = 600_000;
const running: ServiceProcess[] = [];
let stopSeparate: (() => Promise<void>) | undefined;

beforeAll(async () => {
  // turbo replays an unchanged build from its cache, so this costs a compile only after a change.
  await promisify(execFile)("npm", ["run", "build", "--silent"], { cwd: REPO_ROOT, maxBuffer: 32 * 1024 * 1024 });
}, 900_000);

afterAll(async () => {
  await stopSeparate?.();
  await Promise.all(running.map((s) => s.stop()));
});

describe("the compiled build", () => {
  it("runs the image's five services as separate plain-node processes and answers through the gateway", async () => {
    const compose = await readFile(`${REPO_ROOT}/docker-compose.yml`, "utf8");
    const commands = Object.fromEntries(
      (["gateway", ...SUBGRAPH_NAMES] as ServiceName[]).map((name) => {
        const entry = name === "gateway" ? "gateway/dist/index.js" : `subgraphs/${name}/dist/index.js`;
        // docker-compose.yml starts each service of the image this way.
        expect(compose).toContain(`["node", "--conditions=${COMPILED_CONDITION}", "--import", "@catalog/common/telemetry", "${entry}"]`);
        return [name, [`--conditions=${COMPILED_CONDITION}`, "--import", "@catalog/common/telemetry", entry]];
      }),
    ) as Record<ServiceName, string[]>;

    const separate = await startSeparateServices({ cwd: REPO_ROOT, env: { ...productionEnv(), MIGRATE_ON_START: "false" }, commands });
    stopSeparate = separate.stop;
    await signUpAndRead(separate.gatewayUrl);
    // Production: no introspection.
    const introspection = await gql(separate.gatewayUrl, "{ __schema { queryType { name } } }");
    expect(introspection.body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    await separate.stop();
    stopSeparate = undefined;
  }, STARTS);

  it("npm start with NODE_ENV=production runs the compiled whole system on plain node", async () => {
    const system = spawnNode("npm start", ["scripts/npm-start.mjs"], REPO_ROOT, {
      ...productionEnv(),
      PORT: "0",
      SUBGRAPH_PORT_BASE: "0",
    });
    running.push(system);
    const url = await bannerUrl(system);
    await waitReady(system, url);
    // The launcher runs dist/scripts/start.js with the compiled condition, not tsx on scripts/start.ts.
    const children = (await readFile(`/proc/${system.child.pid}/task/${system.child.pid}/children`, "utf8")).trim().split(/\s+/);
    const commandLines = await Promise.all(children.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8")));
    expect(commandLines.map((line) => line.split("\0").slice(1, 5))).toEqual([
      [`--conditions=${COMPILED_CONDITION}`, "--import", "@catalog/common/telemetry", "dist/scripts/start.js"],
    ]);
    await signUpAndRead(url);
    await system.stop();
  }, STARTS);
});

