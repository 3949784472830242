import { createServer, type RequestListener, type Server, type ServerResponse } from "node:http";
import net, { type AddressInfo } from "node:net";
import type { ErrorRequestHandler, RequestHandler } from "express";
import { requestIdFrom } from "./request-id.ts";
import type { Logger } from "./logger.ts";

export interface RunningServer {
  url: string;
  port: number;
  /** Stops at once: open connections are cut (tests, failed starts). */
  close(): Promise<void>;
  /**
   * Graceful stop (SIGTERM): no new connections; requests in flight finish and their connections
   * close after the answer; whatever still runs after `graceMs` is cut.
   */
  drain(graceMs: number): Promise<void>;
}

export interface ListenOptions {
  /** Larger request heads get Node's own 431 before any of our code runs. Node's default: 16 KiB. */
  maxHeaderBytes?: number;
  /** A client that has not sent its whole request by then gets 408 (slow-loris defence). */
  requestTimeoutMs?: number;
}

/** Listens on `port` (0 picks a free one) on `host` and reports the address actually bound. */
export function listen(app: RequestListener, port: number, host = "127.0.0.1", options: ListenOptions = {}): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    // Answers in flight when a drain starts, and requests that still arrive on kept-alive
    // connections during it, end with `Connection: close`. The header is set before the app runs:
    // an app that answers at once (a health check) has sent its headers by the time any later
    // listener could, and a client polling on one kept-alive connection would keep it, and the
    // drain, open until the grace ran out.
    let draining = false;
    const inFlight = new Set<ServerResponse>();
    const server: Server = createServer(
      {
        ...(options.maxHeaderBytes ? { maxHeaderSize: options.maxHeaderBytes } : {}),
        ...(options.requestTimeoutMs ? { requestTimeout: options.requestTimeoutMs, headersTimeout: Math.min(options.requestTimeoutMs, 60_000) } : {}),
      },
      (req, res) => {
        if (draining) res.setHeader("connection", "close");
        inFlight.add(res);
        res.once("close", () => inFlight.delete(res));
        app(req, res);
      },
    );
    server.listen(port, host);
    server.once("error", reject);
    server.once("listening", () => {
      const address = server.address() as AddressInfo;
      const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host;
      resolve({
        port: address.port,
        url: `http://${shownHost}:${address.port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeAllConnections();
          }),
        drain: (graceMs) =>
          new Promise<void>((done) => {
            draining = true;
            for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
            const cut = setTimeout(() => server.closeAllConnections(), graceMs);
            cut.unref();
            // Only the listening socket closes. http.Server#close would also drop every idle
            // kept-alive connection at once, and a client that has just sent its next request on
            // one sees a reset. Left open, such a connection gets its next answer with
            // `Connection: close`, or ends at the keep-alive timeout the client was told about.
            net.Server.prototype.close.call(server, () => {
              clearTimeout(cut);
              done();
            });
          }),
      });
    });
  });
}

/** First middleware of every app: every response, errors and health checks included, carries one. */
export const requestIdMiddleware: RequestHandler = (req, res, next) => {
  const requestId = requestIdFrom(req.headers["x-request-id"]);
  res.locals.requestId = requestId;
  res.setHeader("x-request-id", requestId);
  next();
};

/**
 * A GraphQL-shaped error for a request refused before GraphQL runs (bad credentials, limits,
 * unreadable bodies), carrying the request id like every other error: the one the response's
 * `x-request-id` header already names. Plain node:http, so it serves Express apps and the
 * gateway's own request path alike.
 */
export function sendError(res: ServerResponse, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  const requestId = res.getHeader("x-request-id");
  const body = JSON.stringify({
    errors: [{ message, extensions: { code, ...extensions, ...(typeof requestId === "string" ? { requestId } : {}) } }],
  });
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(body));
  res.end(body);
}

/**
 * Last middleware of every app. Body-parser failures (malformed JSON, oversized bodies) become
 * GraphQL-shaped JSON errors; Express's default handler would send an HTML page with a stack
 * trace and file paths outside production.
 */
export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: { type?: string; status?: number }, _req, res, next) => {
    if (res.headersSent) return next(error);
    answerError(error, res, logger);
  };
}

/** A request's path, lower-cased and without its query: how Express matches routes by default. */
export function routeOf(url: string | undefined): string {
  return (url ?? "/").split("?", 1)[0]!.toLowerCase();
}

/** What `jsonErrorHandler` answers for an error thrown before GraphQL ran (without Express). */
export function answerError(error: { type?: string; status?: number }, res: ServerResponse, logger: Logger): void {
  if (res.headersSent) {
    // Too late for an error body: the client sees the connection end.
    logger.error({ err: error, requestId: res.getHeader("x-request-id") }, "request failed after its answer began");
    res.destroy();
    return;
  }
  let status = 500;
  let message = "Internal server error";
  let code = "INTERNAL_SERVER_ERROR";
  if (error.type === "entity.parse.failed") {
    [status, message, code] = [400, "The request body is not valid JSON.", "BAD_REQUEST"];
  } else if (error.type === "entity.too.large") {
    [status, message, code] = [413, "The request body is too large.", "PAYLOAD_TOO_LARGE"];
  } else if (typeof error.status === "number" && error.status >= 400 && error.status < 500) {
    [status, message, code] = [error.status, "The request could not be read.", "BAD_REQUEST"];
  } else {
    logger.error({ err: error, requestId: res.getHeader("x-request-id") }, "unhandled HTTP error");
  }
  sendError(res, status, code, message);
}
