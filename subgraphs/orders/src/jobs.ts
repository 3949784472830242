import type { Database, Logger } from "@catalog/common";
import PgBoss from "pg-boss";

/**
 * The orders subgraph's background work, on pg-boss in its own database (docs/decisions/0009):
 * jobs are rows in the same PostgreSQL (or embedded PGlite) as the orders, so a job is enqueued
 * in the same transaction as the state change that owes it (an outbox), and pg-boss hands each
 * job to one worker at a time across every instance (SELECT ... FOR UPDATE SKIP LOCKED).
 */
export const JOB = {
  /** A checkout still PLACING after CHECKOUT_RECOVERY_SECONDS: finish or abandon it. */
  checkoutRecover: "orders-checkout-recover",
  /** A payment still PENDING after PAYMENT_RECOVERY_SECONDS: ask the provider what happened. */
  paymentRecover: "orders-payment-recover",
  /** An order still unpaid at its payment deadline: cancel it. */
  orderExpire: "orders-expire-unpaid",
  /** An order whose stock (or money) is owed a call: release, sell or refund. */
  orderSettle: "orders-settle",
  /** Hourly: delete carts past their expiry. */
  cartsPurge: "orders-carts-purge",
  /**
   * Every minute: the backstop. Finds sagas whose own job is gone (retries exhausted, or data
   * from before selling existed) and runs the same idempotent step for them.
   */
  sweep: "orders-sweep",
} as const;
export type JobName = (typeof JOB)[keyof typeof JOB];

export interface JobData {
  "orders-checkout-recover": { orderId: string };
  "orders-payment-recover": { paymentId: string };
  "orders-expire-unpaid": { orderId: string };
  "orders-settle": { orderId: string };
  "orders-carts-purge": Record<string, never>;
  "orders-sweep": Record<string, never>;
}

/** What a Prisma interactive transaction offers for raw SQL. */
export interface RawTransaction {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): Promise<T>;
}

export type JobHandlers = { [N in JobName]: (data: JobData[N]) => Promise<void> };

export interface JobQueue {
  /** Starts this process's workers (unless ORDER_JOBS_ENABLED is off) and the periodic jobs. */
  work(handlers: JobHandlers): Promise<void>;
  /**
   * Enqueues inside `tx`: the job exists exactly when the transaction commits, so a state change
   * and the work it owes are never separated by a crash.
   */
  enqueue<N extends JobName>(tx: RawTransaction, name: N, data: JobData[N], options?: { startAfterSeconds?: number }): Promise<void>;
  /** Enqueues now, outside any transaction (operators, tests). */
  send<N extends JobName>(name: N, data: JobData[N]): Promise<void>;
  /**
   * Makes the waiting jobs of a queue whose data contains `match` due now, so a worker runs them
   * at its next poll: an operator's "retry now", and a test's way to let time pass for one job.
   */
  expedite<N extends JobName>(name: N, match: Partial<JobData[N]>): Promise<number>;
  stop(): Promise<void>;
}


/**
 * pg-boss creates a queue idempotently, but two instances creating the first queues at the same
 * moment can deadlock on its partition DDL; PostgreSQL aborts one of them, which tries again and
 * finds the queue made.
 */
async function createQueues(boss: PgBoss): Promise<void> {
  const existing = new Set((await boss.getQueues()).map((queue) => queue.name));
  for (const name of Object.values(JOB)) {
    for (let attempt = 1; !existing.has(name); attempt++) {
      try {
        await boss.createQueue(name);
        existing.add(name);
      } catch (error) {
        const code = (error as { code?: string }).code;
        const retryable = code === "40P01" || code === "23505" || code === "42P07";
        if (!retryable || attempt >= 5) throw error;
      }
    }
  }
}

export async function startJobQueue(options: { db: Database; logger: Logger; workers: boolean; pollSeconds: number; schema: string }): Promise<JobQueue> {
  const { logger } = options;
  const boss = new PgBoss({
    db: { executeSql: (text, values) => options.db.execute(text, values ?? []) },
    schema: options.schema,
    // Failed steps are retried with exponential backoff (1 s, 2 s, 4 s, ... capped by pg-boss) for
    // about a day before they land in the failed state, where an operator sees them.
    retryLimit: 16,
    retryDelay: 1,
    retryBackoff: true,
    expireInSeconds: 120,
    // Scheduling and maintenance take pg-boss's own advisory locks, so several instances share them.
    schedule: options.workers,
    supervise: options.workers,
  });
  boss.on("error", (error) => logger.error({ err: error }, "job queue error"));
  await boss.start();
  await createQueues(boss);

  return {
    async work(handlers) {
      if (!options.workers) return;
      for (const name of Object.values(JOB)) {
        await boss.work<JobData[typeof name]>(name, { pollingIntervalSeconds: options.pollSeconds, batchSize: 1 }, async ([job]) => {
          if (!job) return;
          try {
            await handlers[name](job.data as never);
          } catch (error) {
            logger.warn({ err: error, job: name, data: job.data }, "job failed; it will be retried");
            throw error;
          }
        });
      }
      await boss.schedule(JOB.cartsPurge, "17 * * * *", {});
      await boss.schedule(JOB.sweep, "* * * * *", {});
    },
    async enqueue(tx, name, data, enqueueOptions = {}) {
      await boss.send(name, data, {
        ...(enqueueOptions.startAfterSeconds ? { startAfter: enqueueOptions.startAfterSeconds } : {}),
        db: { executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe<unknown[]>(text, ...values) }) },
      });
    },
    async send(name, data) {
      await boss.send(name, data);
    },
    async expedite(name, match) {
      const { rowCount } = await options.db.execute(
        `UPDATE ${options.schema}.job SET start_after = now() WHERE name = $1 AND data @> $2::jsonb AND state IN ('created', 'retry')`,
        [name, JSON.stringify(match)],
      );
      return rowCount;
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
