import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type ProxyMode = "pass" | "drop-response" | "hang" | "hold" | "reset" | "garbage";

interface Upstream {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/**
 * One request upstream on a connection of its own. A pooled kept-alive connection left idle while
 * requests are held can be closed by the callee at its keep-alive timeout just as the proxy
 * reuses it: a reset the test did not ask for (seen on a loaded machine).
 */
function forward(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method, headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) }, agent: false }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 502, headers: incoming.headers, body: Buffer.concat(chunks) }));
      incoming.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

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
    let upstream: Upstream;
    try {
      upstream = await forward(new URL(req.url ?? "/graphql", target()), method, headers, method === "GET" || method === "HEAD" ? undefined : body);
    } catch {
      // The callee is gone (a test stopped it): what a real proxy answers.
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("upstream unreachable");
      return;
    }
    if (mode === "drop-response") {
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, {
      "content-type": upstream.headers["content-type"] ?? "application/json",
      ...(upstream.headers["cache-control"] ? { "cache-control": upstream.headers["cache-control"] } : {}),
    });
    res.end(upstream.body);
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
