// The ceiling of `npm run bench:engine`: a bare node:http server, its own process, that answers each
// POST with bytes recorded earlier from our cached gateway for the same request body (no GraphQL, no
// cache lookup beyond one Map.get). How close the cached gateway gets to this is what the response
// cache can still win.
//
// Environment: PORT, HOST (127.0.0.1), BARE_RESPONSES_FILE: a JSON array of [request body,
// response body] pairs. GET answers 200 (readiness); an unknown body answers 404.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const file = process.env.BARE_RESPONSES_FILE;
if (!file) {
  console.error("bare server: BARE_RESPONSES_FILE is required");
  process.exit(1);
}
const pairs = JSON.parse(readFileSync(file, "utf8")) as [string, string][];
const answers = new Map(pairs.map(([request, response]) => [request, Buffer.from(response, "utf8")]));

const server = createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = answers.get(Buffer.concat(chunks).toString("utf8"));
    if (!body) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"message":"unknown request body"}]}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length }).end(body);
  });
});
server.listen(Number(process.env.PORT ?? 4200), process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`bare server listening with ${answers.size} answers\n`);
});

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
