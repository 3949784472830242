/**
 * Loaded into a service process by a test (`--import`): when the process exits, writes one line
 * naming the OpenTelemetry SDK and hook modules it had loaded, so a test can tell that tracing
 * left the process untouched. CommonJS packages imported from ESM still land in require's cache.
 */
import { createRequire } from "node:module";

export const PROBE_MARKER = "module-probe:";

// What tracing would load. @apollo/gateway loads @opentelemetry/sdk-metrics for its own usage
// reporting, with or without tracing: not ours to count.
const SDK_MODULES = /node_modules\/(@opentelemetry\/(sdk-node|sdk-trace-[^/]+|instrumentation[^/]*|exporter-trace-[^/]+)|import-in-the-middle|require-in-the-middle)\//;

const cache = createRequire(import.meta.url).cache;
process.on("exit", () => {
  const loaded = new Set(Object.keys(cache).flatMap((file) => SDK_MODULES.exec(file)?.[1] ?? []));
  process.stderr.write(`${PROBE_MARKER}${JSON.stringify([...loaded].sort())}\n`);
});
