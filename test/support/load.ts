import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { REPO_ROOT } from "@catalog/common";

/**
 * What a stopping server may do to a client: refuse a new connection, or reset one the kernel had
 * queued but the server closed its socket before taking (a reset while connecting). Either way
 * the request was never sent, so it is safe to send elsewhere. Anything else is a failure.
 */
function refused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; syscall?: string } }).cause;
  return cause?.code === "ECONNREFUSED" || cause?.syscall === "connect";
}

export interface Load {
  /** Requests answered 200 without GraphQL errors so far. */
  ok(): number;
  /** Requests that began before `mark()` and were answered after it. */
  spanningMark(): number;
  /** Notes the moment a signal is sent. */
  mark(): void;
  /** Resolves once every worker has been refused a connection (the server stopped listening). */
  finished: Promise<{ ok: number; failures: string[] }>;
}

/**
 * `workers` clients, each sending `request` again as soon as it is answered (on kept-alive
 * connections, as a gateway's pool would), until the server refuses it a connection. A reset, a
 * cut answer, a 5xx or a GraphQL error counts as a failure.
 */
export function steadyLoad(request: () => Promise<Response>, workers = 6): Load {
  let ok = 0;
  let markedAt: number | undefined;
  let spanning = 0;
  const failures: string[] = [];
  const worker = async () => {
    for (;;) {
      const began = Date.now();
      try {
        const response = await request();
        const body = (await response.json()) as { errors?: unknown };
        if (response.status !== 200 || body.errors) failures.push(`HTTP ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
        else {
          ok += 1;
          if (markedAt !== undefined && began < markedAt) spanning += 1;
        }
      } catch (error) {
        if (refused(error)) return;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        failures.push(`${(error as Error).message}: ${cause?.code ?? ""} ${cause?.message ?? ""}`);
      }
    }
  };
  const finished = Promise.all(Array.from({ length: workers }, worker)).then(() => ({ ok, failures }));
  return {
    ok: () => ok,
    spanningMark: () => spanning,
    mark: () => (markedAt = Date.now()),
    finished,
  };
}

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once the process has printed a line matching `pattern` (e.g. a log message). */
  printed(pattern: RegExp): Promise<void>;
  /** Exit code and signal, once it has exited. */
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/**
 * Runs a service's own entry point (e.g. `subgraphs/inventory/src/index.ts`) as production does,
 * and resolves with the URL its "listening" log line names: its own readiness signal, however long
 * a busy machine takes to get there.
 */
export async function startServiceProcess(
  entry: string,
  env: Record<string, string | undefined>,
  listening: RegExp,
): Promise<ServiceProcess & { url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, entry)], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk;
      const match = listening.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${entry} exited (${code}) before listening:\n${output}`)));
  });
  const printed = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        child.stdout!.off("data", check);
        resolve();
      };
      child.stdout!.on("data", check);
      child.once("exit", () => reject(new Error(`exited before printing ${pattern}:\n${output}`)));
      check();
    });
  return { child, url, output: () => output, printed, exited };
}
