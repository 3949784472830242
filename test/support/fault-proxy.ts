import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type ProxyMode = "pass" | "drop-response" | "hang" | "hold" | "reset" | "garbage";

/**
 * A real HTTP hop between two services that can misbehave on purpose: pass requests on, forward
 * them and then lose the answer (the callee did the work, the caller never hears of it), accept
 * them and never answer, hold them until `release()` and then pass them on, or cut the connection
 * as soon as a request arrives (`reset`: the callee never sees it; `resetNext(n)` does it to the
 * next n requests only), or answer 200 with an HTML page (`garbage`). It counts the requests it
 * received. Loopback only.
 */
export async function startFaultProxy(target: () => string) {
  let mode: ProxyMode = "pass";
  let received = 0;
  let held: (() => void)[] = [];
  let resets = 0;
  const read = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });
  const server = createServer(async (req, res) => {
    const body = await read(req);
    received += 1;
    if (mode === "reset" || resets > 0) {
      resets = Math.max(0, resets - 1);
      req.socket.destroy();
      return;
    }
    if (mode === "hang") return;
    if (mode === "garbage") {
      // What a misrouted load balancer or a crashed worker's error page looks like: 200, not JSON.
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>502 Bad Gateway</body></html>");
      return;
    }
    if (mode === "hold") await new Promise<void>((resolve) => held.push(resolve));
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !["host", "content-length", "connection"].includes(name))) as Record<string, string>;
    // The path as asked (/graphql, or /ready when a gateway probes through the proxy); GET has no body.
    const method = req.method ?? "POST";
    const upstream = await fetch(new URL(req.url ?? "/graphql", target()), { method, headers, ...(method === "GET" || method === "HEAD" ? {} : { body }) });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (mode === "drop-response") {
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "application/json",
      ...(upstream.headers.has("cache-control") ? { "cache-control": upstream.headers.get("cache-control")! } : {}),
    });
    res.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    setMode(next: ProxyMode) {
      mode = next;
    },
    /** Cuts the connection of the next `count` requests, then goes back to the current mode. */
    resetNext(count: number) {
      resets = count;
    },
    /** Requests received so far, held ones included. */
    get received() {
      return received;
    },
    /** Passes on every held request (the mode stays). */
    release() {
      const waiting = held;
      held = [];
      for (const resolve of waiting) resolve();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
