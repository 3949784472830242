// npm start. Outside production: the TypeScript sources through tsx, as always (Prisma clients
// generated first). With NODE_ENV=production: the compiled system from `npm run build` on plain
// node, which is what the image runs; nothing is compiled at start. Plain JavaScript, because the
// production image has neither tsx nor TypeScript to run a .ts launcher with.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The package.json "exports" condition that points our workspaces at their compiled dist/.
const COMPILED_CONDITION = "catalog-compiled";
// Loaded before anything else: starts tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, else nothing.
const TELEMETRY = ["--import", "@catalog/common/telemetry"];
const COMPILED_ENTRY = "dist/scripts/start.js";
// What dist/scripts/start.js imports through package exports; each must have been built too.
const COMPILED_PACKAGES = [
  "packages/common/dist/index.js",
  "packages/common/dist/telemetry.js",
  "subgraphs/users/dist/module.js",
  "subgraphs/products/dist/module.js",
  "subgraphs/orders/dist/module.js",
  "subgraphs/inventory/dist/module.js",
];

const parsed = z
  .object({ NODE_ENV: z.enum(["development", "production", "test"]).default("development") })
  .safeParse(process.env);
if (!parsed.success) {
  console.error(`Invalid configuration:\n  NODE_ENV: ${parsed.error.issues[0]?.message}`);
  process.exit(1);
}
const args = process.argv.slice(2);

/** Runs a child with our terminal; resolves to its exit code (128 + n when a signal ended it). */
function run(argv) {
  const child = spawn(process.execPath, argv, { cwd: root, stdio: "inherit" });
  // Ctrl-C reaches the child through the terminal's process group; sending it again would cut its
  // graceful shutdown short. A SIGTERM sent to npm's process only is passed on.
  const onInterrupt = () => {};
  const onTerminate = () => child.kill("SIGTERM");
  process.on("SIGINT", onInterrupt);
  process.on("SIGTERM", onTerminate);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      process.off("SIGINT", onInterrupt);
      process.off("SIGTERM", onTerminate);
      resolve(code ?? 128 + (signal === "SIGINT" ? 2 : 15));
    });
  });
}

if (parsed.data.NODE_ENV === "production") {
  const missing = [COMPILED_ENTRY, ...COMPILED_PACKAGES].filter((file) => !existsSync(path.join(root, file)));
  if (missing.length) {
    console.error(
      `NODE_ENV=production runs the compiled system, and it has not been built (missing ${missing.join(", ")}).\n` +
        "Run `npm run build` first, or unset NODE_ENV to run the TypeScript sources.",
    );
    process.exit(1);
  }
  process.exit(await run([`--conditions=${COMPILED_CONDITION}`, ...TELEMETRY, COMPILED_ENTRY, ...args]));
}

const generated = await run([path.join(root, "scripts/prisma-generate.mjs")]);
if (generated !== 0) process.exit(generated);
process.exit(await run([fileURLToPath(import.meta.resolve("tsx/cli")), ...TELEMETRY, "scripts/start.ts", ...args]));
