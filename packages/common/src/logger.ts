import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(service: string, level = "info"): Logger {
  return pino({
    name: service,
    level,
    // Never log credentials that might ride along on a request.
    redact: [
      "req.headers.authorization",
      "headers.authorization",
      'req.headers["x-api-key"]',
      'headers["x-api-key"]',
      "*.password",
      "*.passwordHash",
    ],
  });
}
