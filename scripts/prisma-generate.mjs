// Generates the four Prisma clients, each into its own subgraph (see prisma/<subgraph>/schema.prisma).
// Runs the CLI once per subgraph, in parallel; skips work when the schema has not changed since
// the last generation, so `npm start` and `npm test` stay fast on a warm checkout.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const subgraphs = ["users", "products", "orders", "inventory"];
const prismaBin = path.join(root, "node_modules", "prisma", "build", "index.js");
const force = process.argv.includes("--force");

function fingerprint(subgraph) {
  const hash = createHash("sha256");
  hash.update(readFileSync(path.join(root, "prisma", subgraph, "schema.prisma")));
  hash.update(readFileSync(path.join(root, "node_modules", "prisma", "package.json")));
  return hash.digest("hex");
}

function generate(subgraph) {
  const out = path.join(root, "subgraphs", subgraph, "src", "generated", "prisma");
  const stamp = path.join(out, ".schema-hash");
  const hash = fingerprint(subgraph);
  if (!force && existsSync(stamp) && readFileSync(stamp, "utf8") === hash) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [prismaBin, "generate", "--config", path.join(root, "prisma", subgraph, "prisma.config.ts")],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1" } },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`prisma generate failed for ${subgraph}:\n${output}`));
      writeFileSync(stamp, hash);
      resolve();
    });
  });
}

try {
  await Promise.all(subgraphs.map(generate));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
