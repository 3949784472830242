import { AsyncLocalStorage } from "node:async_hooks";
import type { RequestHandler } from "express";

const storage = new AsyncLocalStorage<AbortSignal>();

/**
 * Gives each request one deadline that every subgraph call made on its behalf shares. Apollo's
 * data sources call their fetcher without the request context, so the signal travels in async
 * local storage. Mount it after the body parser: the parser resumes in the socket's async
 * context, which would lose the store.
 */
export function deadlineMiddleware(timeoutMs: number): RequestHandler {
  return (_req, res, next) => {
    const signal = AbortSignal.timeout(timeoutMs);
    res.locals.deadline = signal;
    storage.run(signal, next);
  };
}

/** The current request's deadline, if the caller runs inside one. */
export function currentDeadline(): AbortSignal | undefined {
  return storage.getStore();
}
