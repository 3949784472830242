import { register } from "node:module";
import path from "node:path";
import { createAddHookMessageChannel } from "import-in-the-middle";

/**
 * The process's own name in traces unless OTEL_SERVICE_NAME says otherwise: `gateway`,
 * `subgraph-<name>` for a subgraph's entry point, `catalog` for `npm start` (one process).
 */
function defaultServiceName(entry: string | undefined): string {
  const parts = path.resolve(entry ?? "").split(path.sep);
  // The sources (src/) in development, the compiled build (dist/) in production.
  const at = Math.max(parts.lastIndexOf("src"), parts.lastIndexOf("dist"));
  if (at >= 2 && parts[at - 2] === "subgraphs") return `subgraph-${parts[at - 1]}`;
  if (at >= 1 && parts[at - 1] === "gateway") return "gateway";
  return "catalog";
}

/** Paths whose requests are probes, not traffic: tracing them would bury the traces worth reading. */
const UNTRACED_PATHS = new Set(["/health", "/ready", "/metrics"]);

/**
 * Starts the OpenTelemetry SDK: traces only, exported over OTLP as the standard OTEL_* variables
 * say (endpoint, protocol, sampler, batch delays), with the instrumentations of what our
 * services use. Only imported when tracing is configured.
 */
export async function startTracing(serviceName: string | undefined): Promise<void> {
  // Only modules an instrumentation asks for are wrapped; every other ESM module loads untouched.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url, registerOptions);

  const [{ NodeSDK }, { HttpInstrumentation }, { UndiciInstrumentation }, { PgInstrumentation }, { DataloaderInstrumentation }, { PinoInstrumentation }] =
    await Promise.all([
      import("@opentelemetry/sdk-node"),
      import("@opentelemetry/instrumentation-http"),
      import("@opentelemetry/instrumentation-undici"),
      import("@opentelemetry/instrumentation-pg"),
      import("@opentelemetry/instrumentation-dataloader"),
      import("@opentelemetry/instrumentation-pino"),
    ]);
  const sdk = new NodeSDK({
    serviceName: serviceName ?? defaultServiceName(process.argv[1]),
    // NodeSDK's own detectors (env, process, host) read local facts only. The cloud detectors,
    // which probe metadata endpoints at start, are separate packages we do not load.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? "").split("?")[0] ?? ""),
        // Our outgoing calls go through undici; node:http clients (Redis is not one) add nothing.
        requireParentforOutgoingSpans: true,
      }),
      new UndiciInstrumentation(),
      // Migrations, seeding and pg-boss's polling are not requests: only SQL run for one is traced.
      // Statements are recorded without their parameter values.
      new PgInstrumentation({ requireParentSpan: true }),
      new DataloaderInstrumentation({ requireParentSpan: true }),
      // Correlation only (trace_id, span_id on each line); the lines stay on stdout.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
}
