// Starting the services as separate processes, as docker-compose does, and waiting for them to be
// ready: shared by scripts/image-check.ts, scripts/measure-start.ts and test/compiled.test.ts.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/** The package.json "exports" condition that leads our workspaces to their compiled dist/. */
export const COMPILED_CONDITION = "catalog-compiled";
export const SUBGRAPH_NAMES = ["users", "products", "orders", "inventory"] as const;

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null: ended by a signal) once the process is gone. */
  exited: Promise<number | null>;
  /** SIGTERM (SIGKILL if it is still there after `graceMs`), then the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Runs `node <argv>` in `cwd` with exactly `env`, collecting what it prints. */
export function spawnNode(name: string, argv: readonly string[], cwd: string, env: Record<string, string | undefined>): ServiceProcess {
  const child = spawn(process.execPath, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
  return {
    name,
    child,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

/** Resolves once `GET <baseUrl>/ready` answers 200; fails as soon as the process exits. */
export async function waitReady(service: ServiceProcess, baseUrl: string): Promise<void> {
  for (;;) {
    const ready = await fetch(`${baseUrl}/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return;
    await Promise.race([delay(100), service.exited.then(() => failedBefore(service, "ready"))]);
  }
}

function failedBefore(service: ServiceProcess, what: string): never {
  throw new Error(`${service.name} exited before ${what}:\n${service.output()}`);
}

/** The gateway URL from the banner `npm start` prints once the whole system is up. */
export async function bannerUrl(system: ServiceProcess): Promise<string> {
  for (;;) {
    const match = /Apollo Sandbox\s+(http:\/\/\S+)/.exec(system.output());
    if (match) return match[1]!;
    await Promise.race([delay(100), system.exited.then(() => failedBefore(system, "its banner"))]);
  }
}

/** Resident set size of a running process, from /proc (Linux), in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb[1]) / 1024;
}

/** `count` ports free right now on 127.0.0.1 (held open together, so they are distinct). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer();
      return new Promise<Server>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve(server)));
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export type ServiceName = (typeof SUBGRAPH_NAMES)[number] | "gateway";

/**
 * Starts the four subgraphs and the gateway from `commands` (node's arguments per service), each
 * in its own process on its own port, wired as docker-compose wires the image's services.
 * Resolves once every subgraph's /ready and then the gateway's is 200. Stops what it started if
 * anything fails.
 */
export async function startSeparateServices(options: {
  cwd: string;
  env: Record<string, string | undefined>;
  commands: Record<ServiceName, readonly string[]>;
}): Promise<{ gatewayUrl: string; services: Record<ServiceName, ServiceProcess>; stop(): Promise<void> }> {
  const ports = await freePorts(SUBGRAPH_NAMES.length + 1);
  const base = (index: number) => `http://127.0.0.1:${ports[index]}`;
  // Subgraphs reach their peers (orders -> products, inventory) by the variables the gateway uses.
  const subgraphUrls = Object.fromEntries(SUBGRAPH_NAMES.map((name, i) => [`${name.toUpperCase()}_SUBGRAPH_URL`, `${base(i)}/graphql`]));
  const env = { ...options.env, ...subgraphUrls, HOST: "127.0.0.1" };
  const started: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const subgraphs = SUBGRAPH_NAMES.map((name, i) => {
      const service = spawnNode(name, options.commands[name], options.cwd, { ...env, PORT: String(ports[i]) });
      started.push(service);
      return service;
    });
    const gatewayIndex = SUBGRAPH_NAMES.length;
    const gateway = spawnNode("gateway", options.commands.gateway, options.cwd, {
      ...env,
      PORT: String(ports[gatewayIndex]),
      PARTNER_KEYS_URL: `${base(0)}/internal/partners/resolve`,
    });
    started.push(gateway);
    await Promise.all(subgraphs.map((service, i) => waitReady(service, base(i))));
    await waitReady(gateway, base(gatewayIndex));
    const [users, products, orders, inventory] = subgraphs as [ServiceProcess, ServiceProcess, ServiceProcess, ServiceProcess];
    return { gatewayUrl: base(gatewayIndex), services: { users, products, orders, inventory, gateway }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
