import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer, type BaseContext } from "@apollo/server";

/**
 * Hands a request whose body is already parsed (`req.body`) to Apollo Server and writes its
 * answer: what @as-integrations/express5 does, on plain node:http. The gateway and every
 * subgraph answer GraphQL POSTs this way, without Express, whose own per-request work cost
 * more CPU than a cached answer (`npm run bench:engine`).
 */
export async function executeGraphQLOverHttp<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  req: IncomingMessage & { body?: unknown },
  res: ServerResponse,
  context: () => Promise<TContext>,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const url = req.url ?? "";
  const start = url.indexOf("?");
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: {
      method: (req.method ?? "GET").toUpperCase(),
      headers,
      search: start === -1 ? "" : url.slice(start),
      body: req.body,
    },
    context,
  });
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === "complete") {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}
