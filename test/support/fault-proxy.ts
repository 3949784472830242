import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type ProxyMode = "pass" | "drop-response" | "hang";

/**
 * A real HTTP hop between two services that can misbehave on purpose: pass requests on, forward
 * them and then lose the answer (the callee did the work, the caller never hears of it), or
 * accept them and never answer. Loopback only.
 */
export async function startFaultProxy(target: () => string) {
  let mode: ProxyMode = "pass";
  const read = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });
  const server = createServer(async (req, res) => {
    const body = await read(req);
    if (mode === "hang") return;
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !["host", "content-length", "connection"].includes(name))) as Record<string, string>;
    const upstream = await fetch(target(), { method: req.method ?? "POST", headers, body });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (mode === "drop-response") {
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
    res.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    setMode(next: ProxyMode) {
      mode = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
