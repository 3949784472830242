import { IDENTITY_HEADER } from "@catalog/common/edge";
import type { Answer } from "./data-source.ts";

/** The most representations one batched entity call carries; a fuller batch is sent and a new one begun. */
const MAX_BATCH_REPRESENTATIONS = 1_000;

interface BatchWaiter {
  offset: number;
  count: number;
  /** The caller's own body, sent as it is when nobody joined it (or the batch's answer cannot be split). */
  body: string;
  /** The caller's own deadline: it ends this caller's wait, not the others'. */
  signal: AbortSignal | undefined;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

/** Entity calls of one shape (operation, other variables, viewer) begun in the same turn of the event loop. */
interface EntityBatch {
  query: string;
  operationName: string | undefined;
  others: Record<string, unknown>;
  headers: Record<string, string>;
  representations: unknown[];
  waiters: BatchWaiter[];
}

interface SubgraphErrorLike {
  path?: unknown;
  [key: string]: unknown;
}

/**
 * A batched `_entities` answer cut into each caller's part: its slice of `_entities`, the errors
 * whose `_entities` index falls in its slice (renumbered) and every error without one, and the
 * answer's extensions. undefined when the answer is not one that can be split for certain.
 */
function splitEntities(answer: Answer, waiters: readonly BatchWaiter[]): Answer[] | undefined {
  let parsed: { data?: { _entities?: unknown } | null; errors?: unknown; extensions?: unknown };
  try {
    parsed = JSON.parse(answer.text) as typeof parsed;
  } catch {
    return undefined;
  }
  const entities = parsed?.data?._entities;
  const total = waiters.reduce((sum, waiter) => sum + waiter.count, 0);
  if (!Array.isArray(entities) || entities.length !== total) return undefined;
  const errors = parsed.errors ?? [];
  if (!Array.isArray(errors) || !errors.every((error) => error !== null && typeof error === "object")) return undefined;
  return waiters.map((waiter) => {
    const own = (errors as SubgraphErrorLike[]).flatMap((error) => {
      const path = Array.isArray(error.path) ? error.path : undefined;
      if (!path || path[0] !== "_entities" || typeof path[1] !== "number") return [error];
      const index = path[1] - waiter.offset;
      return index >= 0 && index < waiter.count ? [{ ...error, path: ["_entities", index, ...path.slice(2)] }] : [];
    });
    const part = {
      data: { _entities: entities.slice(waiter.offset, waiter.offset + waiter.count) },
      ...(own.length ? { errors: own } : {}),
      ...(parsed.extensions ? { extensions: parsed.extensions } : {}),
    };
    return { ...answer, text: JSON.stringify(part) };
  });
}

/**
 * Entity calls batched across requests (SUBGRAPH_ENTITY_BATCHING), for one subgraph: its data
 * source hands over each `_entities` call made for a query, and makes the calls this decides on.
 */
export class EntityBatcher {
  private readonly batches = new Map<string, EntityBatch>();

  constructor(
    private readonly options: {
      /** One call to the subgraph (breaker and retries included). */
      call(headers: Record<string, string>, body: string, signal: AbortSignal | undefined): Promise<Answer>;
      /** Whether a batch that failed this way is asked again per caller instead. */
      askAloneAfter(error: unknown): boolean;
      /** A caller joined a batch someone else began. */
      joined(): void;
    },
  ) {}

  /**
   * Joins an `_entities` call made for a query to the other calls of the same shape (same
   * operation, same other variables, same viewer's identity token) begun in this turn of the event
   * loop: one call to the subgraph carries all their representations, and each caller gets its
   * own slice of `_entities` and the errors whose path falls in it (renumbered), plus every error
   * without one. Under load, many clients' requests reach the same entity hop at once (each
   * product listing asks inventory for its page's stock): a call per turn instead of a call per
   * request. An answer that cannot be split for certain, or too large together, is asked again
   * per caller; each caller's deadline ends only its own wait. undefined: not such a call.
   */
  join(request: { query?: string; operationName?: string; variables?: Record<string, unknown> }, headers: Record<string, string>, body: string, signal: AbortSignal | undefined): Promise<Answer> | undefined {
    if (!request.query?.includes("_entities(")) return undefined;
    const { representations, ...others } = request.variables ?? {};
    if (!Array.isArray(representations) || representations.length === 0) return undefined;
    const key = `${headers[IDENTITY_HEADER] ?? ""}\n${request.operationName ?? ""}\n${request.query}\n${JSON.stringify(others)}`;
    let batch = this.batches.get(key);
    if (!batch || batch.representations.length + representations.length > MAX_BATCH_REPRESENTATIONS) {
      const fresh: EntityBatch = { query: request.query, operationName: request.operationName, others, headers, representations: [], waiters: [] };
      this.batches.set(key, fresh);
      setImmediate(() => this.flush(key, fresh));
      batch = fresh;
    }
    const joining = batch;
    return new Promise<Answer>((resolve, reject) => {
      joining.waiters.push({ offset: joining.representations.length, count: representations.length, body, signal, resolve, reject });
      joining.representations.push(...representations);
    });
  }

  private flush(key: string, batch: EntityBatch): void {
    if (this.batches.get(key) === batch) this.batches.delete(key);
    const { waiters } = batch;
    if (waiters.length === 1) {
      const [only] = waiters as [BatchWaiter];
      this.alone(batch, only);
      return;
    }
    for (let i = 1; i < waiters.length; i++) this.options.joined();
    // Each caller's deadline ends its own wait; the call itself is cut only when all have given up.
    const shared = new AbortController();
    let waiting = waiters.length;
    const stops = waiters.map((waiter) => {
      const giveUp = () => {
        waiter.reject(waiter.signal!.reason);
        if (--waiting === 0) shared.abort(waiter.signal!.reason);
      };
      if (!waiter.signal) return () => {};
      if (waiter.signal.aborted) giveUp();
      else waiter.signal.addEventListener("abort", giveUp, { once: true });
      return () => waiter.signal!.removeEventListener("abort", giveUp);
    });
    const done = () => stops.forEach((stop) => stop());
    const body = JSON.stringify({ query: batch.query, variables: { ...batch.others, representations: batch.representations }, ...(batch.operationName ? { operationName: batch.operationName } : {}) });
    this.options.call(batch.headers, body, shared.signal).then(
      (answer) => {
        done();
        const split = answer.status >= 200 && answer.status < 300 ? splitEntities(answer, waiters) : undefined;
        // An answer that cannot be split for certain (a 4xx, malformed JSON, missing or miscounted
        // entities, errors not a list): every caller asks again on its own, so each gets an
        // answer about its own representations only.
        if (!split) {
          for (const waiter of waiters) this.alone(batch, waiter);
          return;
        }
        waiters.forEach((waiter, i) => waiter.resolve(split[i]!));
      },
      (error: unknown) => {
        done();
        if (this.options.askAloneAfter(error)) {
          for (const waiter of waiters) this.alone(batch, waiter);
          return;
        }
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  /** A batched caller's own call, with its own body and deadline. */
  private alone(batch: EntityBatch, waiter: BatchWaiter): void {
    this.options.call(batch.headers, waiter.body, waiter.signal).then(waiter.resolve, waiter.reject);
  }

}
