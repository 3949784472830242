import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "@catalog/common";

export interface SystemProcess {
  child: ChildProcess;
  /** The gateway's base URL (Sandbox), as the banner prints it. */
  url: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `scripts/start.ts` (what `npm start` runs) as a child process with `env`, and resolves once
 * its banner names the gateway, which it prints only when every service answers. No time limit of
 * its own: a busy machine may take long to migrate and seed, and the caller (a test's timeout, a
 * benchmark's operator) decides how long is too long. Used by tests and benchmarks.
 */
export async function startSystemProcess(env: Record<string, string | undefined>): Promise<SystemProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts/start.ts")], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const match = /Apollo Sandbox\s+(http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code} before ready:\n${output}`)));
  });
  return {
    child,
    url,
    output: () => output,
    stop: () => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      return exited;
    },
  };
}
