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
 * its banner names the gateway. Used by the embedded-mode test and the cache benchmark.
 */
export async function startSystemProcess(env: Record<string, string | undefined>, timeoutMs = 120_000): Promise<SystemProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts/start.ts")], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs / 1000} s:\n${output}`)), timeoutMs);
    child.stdout!.on("data", () => {
      const match = /Apollo Sandbox\s+(http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code} before ready:\n${output}`)));
  });
  return {
    child,
    url,
    output: () => output,
    stop: () => {
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      return exited;
    },
  };
}
