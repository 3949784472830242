import http from "node:http";
import { describe, expect, it } from "vitest";
import { listen } from "../src/http.ts";

/** One GET on `agent` (one kept-alive socket); resolves with the answer's headers and whether the socket was reused. */
function get(url: string, agent: http.Agent): Promise<{ connection: string | undefined; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.once("end", () => resolve({ connection: res.headers.connection, reused: req.reusedSocket }));
    });
    req.once("error", reject);
  });
}

describe("listen: drain", () => {
  it("closes a kept-alive connection after its next answer, even one the app sends at once", async () => {
    // Answers synchronously, as a health check does.
    const server = await listen((_req, res) => res.end("ok"), 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(`${server.url}/health`, agent)).toEqual({ connection: "keep-alive", reused: false });
      // A grace far longer than the test: the drain ends only because the connection closed.
      const drained = server.drain(600_000);
      expect(await get(`${server.url}/health`, agent)).toEqual({ connection: "close", reused: true });
      await drained;
      // The listening socket is closed too: a new connection is refused.
      await expect(get(`${server.url}/health`, agent)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      agent.destroy();
      await server.close().catch(() => {});
    }
  });
});
