/**
 * Tracing bootstrap. Loaded with `--import` after tsx and before a service's entry point, e.g.
 * `node --import tsx --import @catalog/common/telemetry gateway/src/index.ts`, because ESM
 * modules can only be instrumented if the loader hook is in place before they are linked: an
 * import at the top of the entry point would run after the whole module graph was loaded.
 *
 * Without an OTLP endpoint it parses the variables and stops: the SDK is never imported, no hook
 * is registered, and @apollo/gateway's spans stay on the API's no-op tracer.
 */
import { parseEnv, telemetryEnvSchema } from "./config.ts";

let config;
try {
  config = parseEnv(telemetryEnvSchema);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
if (config.enabled) {
  const { startTracing } = await import("./telemetry-sdk.ts");
  await startTracing(config.serviceName);
}
