// npm run image:check: the Dockerfile's runtime stage, proven without a Docker engine. Builds the
// runtime stage's file tree in a temporary directory from the Dockerfile's own COPY lines (the
// deps stage's `npm ci --omit=dev` included), checks that it holds no secrets, no TypeScript and
// no dev dependency, then runs it on the PostgreSQL and Redis at 127.0.0.1 as docker-compose runs
// the image: the compiled db:migrate and db:seed, the four subgraphs and the gateway as separate
// processes with docker-compose.yml's commands, a query through the gateway, and `npm start`.
// Stops everything it started and drops its databases. `--keep` leaves the directory for a look.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { deriveDatabaseUrl, dropPostgresDatabase, REPO_ROOT, SUBGRAPHS } from "@catalog/common";
import {
  bannerUrl,
  spawnNode,
  startSeparateServices,
  SUBGRAPH_NAMES,
  waitReady,
  type ServiceName,
  type ServiceProcess,
} from "./compiled-services.ts";

const run = promisify(execFile);

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string;
  workdir: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages and their instructions (comments dropped, continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [keyword = "", ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    if (instruction.keyword === "FROM") {
      const name = /\bAS\s+(\S+)/i.exec(instruction.args)?.[1] ?? String(stages.length);
      // A stage built FROM an earlier one starts with that stage's files, so with its instructions.
      const parent = stages.find((s) => s.name === instruction.args.split(/\s+/)[0]);
      stages.push({ name, workdir: parent?.workdir ?? "/", instructions: [...(parent?.instructions ?? [])] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile: ${keyword} before FROM`);
    if (instruction.keyword === "WORKDIR") stage.workdir = path.posix.resolve(stage.workdir, instruction.args);
    stage.instructions.push(instruction);
  }
  return stages;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  destination: string;
}

function parseCopy(args: string): Copy {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith("--")) {
    const flag = words.shift()!;
    if (flag.startsWith("--from=")) from = flag.slice("--from=".length);
  }
  const destination = words.pop();
  if (!destination || !words.length) throw new Error(`COPY ${args}: needs a source and a destination`);
  if (words.some((word) => /[*?[]/.test(word))) throw new Error(`COPY ${args}: no wildcards (Docker flattens them)`);
  return { from, sources: words, destination };
}

/** Where a COPY puts `source`: into `destination` when it is a directory (ends with /), else at it. */
function target(root: string, workdir: string, source: string, destination: string): string {
  const inImage = path.posix.resolve(workdir, destination);
  const file = destination.endsWith("/") ? path.posix.join(inImage, path.posix.basename(source)) : inImage;
  return path.join(root, file);
}

async function copy(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  // verbatimSymlinks: node_modules/@catalog/* are relative links to the workspaces; keep them so.
  await cp(from, to, { recursive: true, verbatimSymlinks: true });
}

/** Files under `dir` (relative paths), not following symlinks. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const relative = path.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await walk(path.join(dir, entry.name), relative)));
    else found.push(relative);
  }
  return found;
}

async function sizeMiB(dir: string): Promise<string> {
  const { stdout } = await run("du", ["-sk", dir]);
  return (Number(stdout.split(/\s/)[0]) / 1024).toFixed(0);
}

/** Each service's `command` in docker-compose.yml (flow sequences, as written there). */
function composeCommands(text: string): Map<string, string[]> {
  const commands = new Map<string, string[]>();
  let service: string | undefined;
  let inServices = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) inServices = line.startsWith("services:");
    const name = /^ {2}([\w-]+):\s*$/.exec(line)?.[1];
    if (inServices && name) service = name;
    const command = /^ {4}command:\s*(\[.*\])\s*$/.exec(line)?.[1];
    if (inServices && service && command) commands.set(service, JSON.parse(command) as string[]);
  }
  return commands;
}

function step(message: string): void {
  console.log(`\n== ${message}`);
}

async function main(): Promise<void> {
  const keep = process.argv.includes("--keep");
  const stages = parseDockerfile(await readFile(path.join(REPO_ROOT, "Dockerfile"), "utf8"));
  const runtime = stages.at(-1)!;
  const byName = new Map(stages.map((s) => [s.name, s]));
  const deps = byName.get("deps");
  if (!deps || !byName.has("build")) throw new Error("Dockerfile: expected stages named build and deps");
  for (const missing of ["dist/scripts/start.js", "gateway/dist/index.js", ...SUBGRAPH_NAMES.map((n) => `subgraphs/${n}/dist/index.js`)]) {
    await stat(path.join(REPO_ROOT, missing)).catch(() => {
      throw new Error(`${missing} is missing: run npm run build first (npm run image:check does)`);
    });
  }

  const work = await mkdtemp(path.join(tmpdir(), "catalog-image-"));
  const depsRoot = path.join(work, "deps");
  const appRoot = path.join(work, "app");
  const services: ServiceProcess[] = [];
  const databaseBase = `catalog_imagecheck_${randomBytes(4).toString("hex")}`;
  const databaseUrl = `postgresql://postgres@127.0.0.1:5432/${databaseBase}`;
  let stopSeparate: (() => Promise<void>) | undefined;
  try {
    step(`deps stage in ${depsRoot}`);
    const stageEnv: Record<string, string> = {};
    for (const { keyword, args } of deps.instructions) {
      if (keyword === "ENV") {
        for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) stageEnv[key!] = value!;
      } else if (keyword === "COPY") {
        const c = parseCopy(args);
        if (c.from) throw new Error(`deps stage: COPY --from is not reproduced here (${args})`);
        for (const source of c.sources) await copy(path.join(REPO_ROOT, source), target(depsRoot, deps.workdir, source, c.destination));
      } else if (keyword === "RUN") {
        // As written (npm ci --omit=dev, then the prune), in the stage's directory and environment.
        const { stderr } = await run("sh", ["-c", args], { cwd: path.join(depsRoot, deps.workdir), env: { ...process.env, ...stageEnv } });
        process.stdout.write(stderr);
      }
    }

    step(`runtime stage in ${appRoot}`);
    let cmd: string[] | undefined;
    for (const { keyword, args } of runtime.instructions) {
      if (keyword === "CMD") cmd = JSON.parse(args) as string[];
      if (keyword !== "COPY") continue;
      const c = parseCopy(args);
      if (c.from !== "build" && c.from !== "deps") {
        throw new Error(`runtime stage copies from the build context (${args}): copy from a stage, so no stray file gets in`);
      }
      const stageDir = byName.get(c.from)!.workdir;
      const sourceRoot = c.from === "build" ? REPO_ROOT : path.join(depsRoot, stageDir);
      for (const source of c.sources) {
        const relative = path.posix.relative(stageDir, path.posix.resolve(stageDir, source));
        if (relative.startsWith("..")) throw new Error(`COPY ${args}: ${source} is outside the ${c.from} stage's WORKDIR`);
        await copy(path.join(sourceRoot, relative), target(appRoot, runtime.workdir, source, c.destination));
      }
    }
    const app = path.join(appRoot, runtime.workdir);
    const files = await walk(app);
    const problems = [
      ...files.filter((f) => /(^|\/)\.env(\.|$)|\.(pem|key)$|dev-secrets\.json$/.test(f)).map((f) => `secret-like file ${f}`),
      ...files.filter((f) => !f.startsWith("node_modules/") && /\.ts$/.test(f)).map((f) => `TypeScript source ${f}`),
      ...["typescript", "tsx", "prisma", "@prisma/engines", "vitest", "turbo", "eslint", "esbuild"]
        .filter((pkg) => files.some((f) => f.startsWith(`node_modules/${pkg}/`)))
        .map((pkg) => `dev dependency node_modules/${pkg}`),
    ];
    if (problems.length) throw new Error(`runtime stage:\n  ${problems.join("\n  ")}`);
    console.log(
      `${files.length} files, ${await sizeMiB(app)} MiB (node_modules ${await sizeMiB(path.join(app, "node_modules"))} MiB); ` +
        "no .env or key file, no .ts outside node_modules, no typescript/tsx/prisma CLI",
    );

    const compose = composeCommands(await readFile(path.join(REPO_ROOT, "docker-compose.yml"), "utf8"));
    const commands = Object.fromEntries(
      (["gateway", ...SUBGRAPH_NAMES] as ServiceName[]).map((name) => {
        const command = compose.get(name);
        if (!command || command[0] !== "node") throw new Error(`docker-compose.yml: ${name} has no node command`);
        return [name, command.slice(1)];
      }),
    ) as Record<ServiceName, string[]>;
    if (JSON.stringify(cmd) !== JSON.stringify(["node", ...commands.gateway])) {
      throw new Error(`Dockerfile CMD ${JSON.stringify(cmd)} is not docker-compose's gateway command`);
    }

    // A container's environment: only what docker-compose would set, nothing inherited from here.
    const secret = () => randomBytes(48).toString("base64");
    const env = {
      PATH: process.env.PATH,
      HOME: tmpdir(),
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      REDIS_URL: "redis://127.0.0.1:6379",
      REDIS_KEY_PREFIX: `${databaseBase}:`,
      JWT_SECRET: secret(),
      INTERNAL_AUTH_SECRET: secret(),
      LOG_LEVEL: "warn",
    };
    const compiled = commands.gateway.slice(0, -1);

    step("compiled db:migrate, then db:seed (the demo catalog: development only)");
    for (const [script, nodeEnv] of [["db-migrate", "production"], ["db-seed", "development"]] as const) {
      const job = spawnNode(script, [...compiled, `dist/scripts/${script}.js`], app, { ...env, NODE_ENV: nodeEnv });
      const code = await job.exited;
      process.stdout.write(job.output());
      if (code !== 0) throw new Error(`${script} exited with ${code}`);
    }

    step("gateway + four subgraphs, separate processes, NODE_ENV=production, docker-compose's commands");
    const startedAt = Date.now();
    const separate = await startSeparateServices({ cwd: app, env: { ...env, MIGRATE_ON_START: "false" }, commands });
    stopSeparate = separate.stop;
    console.log(`all five ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; gateway ${separate.gatewayUrl}`);
    await query(separate.gatewayUrl);
    const codes = await Promise.all(Object.values(separate.services).map(async (s) => [s.name, await s.stop()] as const));
    stopSeparate = undefined;
    // In production Apollo Server re-raises SIGTERM once it has stopped: null (killed by it) is expected.
    console.log(`stopped on SIGTERM, exit codes: ${codes.map(([name, code]) => `${name} ${code}`).join(", ")}`);

    step("npm start in the image (NODE_ENV=production): the whole system in one process");
    const system = spawnNode("npm start", ["scripts/npm-start.mjs"], app, { ...env, PORT: "0", SUBGRAPH_PORT_BASE: "0" });
    services.push(system);
    const url = await bannerUrl(system);
    await waitReady(system, url);
    await query(url);
    console.log(`npm start stopped with ${await system.stop()}`);
    console.log("\nimage check passed");
  } finally {
    await stopSeparate?.();
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(SUBGRAPHS.map((name) => dropPostgresDatabase(deriveDatabaseUrl(databaseUrl, name)).catch(() => undefined)));
    if (keep) console.log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

const PRODUCT = `{
  productBySku(sku: "SKU-00042") {
    name
    inventory { available }
    shippingEstimate { minDays }
    reviews(first: 2) { edges { node { rating author { fullName } } } }
  }
}`;

/** README's first example: products, inventory (twice) and users, through the gateway. */
async function query(gatewayUrl: string): Promise<void> {
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: PRODUCT }),
  });
  const body = (await response.json()) as { data?: { productBySku?: { reviews: { edges: { node: { author: { fullName: string } | null } }[] } } }; errors?: unknown };
  const product = body.data?.productBySku;
  if (response.status !== 200 || body.errors || !product || !product.reviews.edges.every((r) => r.node.author?.fullName)) {
    throw new Error(`query through the gateway failed (${response.status}): ${JSON.stringify(body)}`);
  }
  console.log(`query answered: ${JSON.stringify(body.data)}`);
}

try {
  await main();
} catch (error) {
  console.error(`\nimage check FAILED: ${(error as Error).message}`);
  process.exit(1);
}
