import { createHash } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { DatabaseBusy } from "./errors.ts";
import type { SqlRunner } from "./migrations.ts";

/** A subgraph's database: the Prisma driver adapter plus a raw runner for migrations and seeding. */
export interface Database extends SqlRunner {
  /**
   * Any SQL, with or without parameters, several statements allowed when there are none; the
   * rows of the last statement. What a job queue library on this database needs.
   */
  execute(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; rowCount: number }>;
  kind: "postgres" | "embedded";
  /** Where the data lives, safe to log (no password). */
  location: string;
  adapter: SqlDriverAdapterFactory;
  /**
   * A hot read, straight to the driver: one statement, parameters as `$1..$n`, the rows as the
   * driver types them (numeric as string, timestamptz as Date). For the reads every listing makes,
   * where Prisma's client cost several times the driver's CPU per call (0.85 vs 0.21 ms for the
   * same raw statement, `$queryRaw` vs `pg`); on the same pool as Prisma's.
   */
  read<T>(sql: string, params: unknown[]): Promise<T[]>;
  /** Runs for every `read` (the SQL-count tests count them with Prisma's statements). */
  onRead(listener: (sql: string) => void): () => void;
  /**
   * Whether the database can serve a request now: throws DatabaseBusy while every connection is
   * taken and others already wait, else runs `SELECT 1` the way requests do (same pool, same queue
   * limit). Readiness asks this, so a saturated pool takes the instance out of rotation.
   */
  ping(): Promise<void>;
  /** The serving pool's connections now (undefined for embedded, which has one, serialised). */
  poolStats(): PoolStats | undefined;
  close(): Promise<void>;
}

export interface PoolStats {
  max: number;
  total: number;
  idle: number;
  /** Requests queued for a connection. */
  waiting: number;
}


const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `r_${createHash("sha1").update(sql).digest("hex").slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name;
}

function readListeners() {
  const listeners = new Set<(sql: string) => void>();
  return {
    emit(sql: string) {
      for (const listener of listeners) listener(sql);
    },
    onRead(listener: (sql: string) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/** Runs `work` on a connection to the server's `postgres` database, with the target's quoted name. */
async function withMaintenanceClient(url: string, work: (client: pg.Client, quotedName: string, name: string) => Promise<void>) {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  const maintenance = new URL(url);
  maintenance.pathname = "/postgres";
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    // Identifiers cannot be parameters; quote it the way Postgres does.
    await work(client, `"${name.replace(/"/g, '""')}"`, name);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` when it does not exist yet (used by migrate, start and tests). */
export function ensurePostgresDatabase(url: string): Promise<void> {
  return withMaintenanceClient(url, async (client, quoted, name) => {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount !== 0) return;
    await client.query(`CREATE DATABASE ${quoted}`).catch((error: { code?: string }) => {
      // Another process created it between our check and our CREATE.
      if (error.code !== "42P04") throw error;
    });
  });
}

export function dropPostgresDatabase(url: string): Promise<void> {
  return withMaintenanceClient(url, async (client, quoted) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
  });
}

export interface PostgresOptions {
  /** Connections serving requests (Prisma and the hot reads); DB_POOL_SIZE. */
  poolSize?: number;
  /**
   * How long a statement may queue for one of them before it fails with SERVICE_UNAVAILABLE
   * (DB_POOL_ACQUIRE_TIMEOUT_MS): an exhausted pool answers a read fast instead of holding every
   * caller until the gateway's deadline.
   */
  acquireTimeoutMs?: number;
  /**
   * How long a write transaction may queue: a burst of checkouts on one product holds
   * connections while each waits for the row, and a longer queue is better than refusing a buyer
   * (who would retry with the same idempotency key anyway). Default: WRITE_TRANSACTION.maxWait,
   * Prisma's own bound on the same wait.
   */
  transactionAcquireTimeoutMs?: number;
}

export const DEFAULT_POOL = { size: 10, acquireTimeoutMs: 2_000, transactionAcquireTimeoutMs: 5_000 } as const;

/** Opening a connection to PostgreSQL, as opposed to waiting for a pooled one. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A pg pool whose queue limit depends on what waits: Prisma's pg adapter begins an interactive
 * transaction with `connect()` and runs every other statement through `query()`, which checks a
 * client out with `connect(callback)` (as do our raw reads). pg-pool reads
 * `connectionTimeoutMillis` when a caller joins the queue, and removes it from the queue when that
 * passes (the rejection `isPoolExhausted` recognises).
 */
class ServingPool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    private readonly waits: { statementMs: number; transactionMs: number },
  ) {
    super(config);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    // pg-pool applies the same setting to opening a new connection when the pool is not full: a
    // slow connect (a busy server) is not an exhausted pool, and gets longer.
    const full = this.totalCount >= (this.options.max ?? 10);
    this.options.connectionTimeoutMillis = !full ? CONNECT_TIMEOUT_MS : callback ? this.waits.statementMs : this.waits.transactionMs;
    return callback ? super.connect(callback) : super.connect();
  }
}

/**
 * Session settings every serving connection starts with. pg_trgm's word similarity threshold
 * (default 0.6) decides how far a searched word may be from a product name's (the products
 * subgraph's typo tolerance, docs/decisions/0021): at 0.6 a dropped letter near a word's start
 * ("hedphones") is not forgiven; 0.45 forgives one typo in a word of 6 or more letters and still
 * keeps "camp" from matching "lamp". A setting for a module not loaded yet is kept until it loads.
 */
const SESSION_SETTINGS = { "pg_trgm.word_similarity_threshold": "0.45" };

export function openPostgres(url: string, options: PostgresOptions = {}): Database {
  // Raw statements (migrations, seeding) use their own small pool; Prisma's adapter keeps its
  // own, so neither can starve the other.
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Prisma's adapter and the hot reads share one pool: reads add no connections.
  const max = options.poolSize ?? DEFAULT_POOL.size;
  const reads = new ServingPool(
    { connectionString: url, max, options: Object.entries(SESSION_SETTINGS).map(([name, value]) => `-c ${name}=${value}`).join(" ") },
    {
      statementMs: options.acquireTimeoutMs ?? DEFAULT_POOL.acquireTimeoutMs,
      transactionMs: options.transactionAcquireTimeoutMs ?? DEFAULT_POOL.transactionAcquireTimeoutMs,
    },
  );
  for (const each of [pool, reads]) {
    each.on("error", () => {
      // An idle client lost its connection; the pool replaces it on next use.
    });
  }
  const listeners = readListeners();
  return {
    kind: "postgres",
    location: redactUrl(url),
    adapter: new PrismaPg(reads),
    async read<T>(sql: string, params: unknown[]) {
      listeners.emit(sql);
      // A named statement: each connection parses and plans it once, then only binds values.
      // Names follow the text, so a statement's name never changes meaning; reads have few shapes.
      return (await reads.query({ name: statementName(sql), text: sql, values: params })).rows as T[];
    },
    onRead: listeners.onRead,
    async ping() {
      if (reads.waitingCount > 0 && reads.totalCount >= max) throw new DatabaseBusy(`all ${max} connections are busy and ${reads.waitingCount} requests wait`);
      await reads.query("SELECT 1");
    },
    poolStats: () => ({ max, total: reads.totalCount, idle: reads.idleCount, waiting: reads.waitingCount }),
    async exec(sql) {
      await pool.query(sql);
    },
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async execute(sql, params) {
      // Without parameters pg uses the simple protocol, which answers one result per statement.
      const result = (await pool.query(sql, params)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return { rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 };
    },
    async close() {
      await Promise.all([pool.end(), reads.end()]);
    },
  };
}

/**
 * Embedded PostgreSQL (PGlite, compiled to WebAssembly) for running without a database server.
 * `dataDir` keeps the data between restarts; `undefined` keeps it in memory.
 */
export async function openEmbedded(dataDir: string | undefined, options: { fresh?: boolean } = {}): Promise<Database> {
  if (dataDir) {
    if (options.fresh) await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
  }
  // pg_trgm (typo-tolerant search, products) ships with PGlite as a separate bundle: it must be
  // loaded at open for the migrations' CREATE EXTENSION to find it.
  const lite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { pg_trgm } });
  for (const [name, value] of Object.entries(SESSION_SETTINGS)) await lite.query(`SELECT set_config($1, $2, false)`, [name, value]);
  const listeners = readListeners();
  return {
    kind: "embedded",
    location: dataDir ?? "memory",
    adapter: new PrismaPGlite(lite) as unknown as SqlDriverAdapterFactory,
    async read<T>(sql: string, params: unknown[]) {
      listeners.emit(sql);
      return (await lite.query<T>(sql, params)).rows;
    },
    onRead: listeners.onRead,
    async ping() {
      await lite.query("SELECT 1");
    },
    poolStats: () => undefined,
    async exec(sql) {
      await lite.exec(sql);
    },
    async query<T>(sql: string, params: unknown[] = []) {
      return (await lite.query<T>(sql, params)).rows;
    },
    async execute(sql, params) {
      if (params?.length) {
        const result = await lite.query(sql, params);
        return { rows: result.rows, rowCount: result.affectedRows ?? 0 };
      }
      const results = await lite.exec(sql);
      const last = results[results.length - 1];
      return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? 0 };
    },
    async close() {
      await lite.close();
    },
  };
}

/**
 * Options for interactive write transactions. Prisma's defaults (2 s to get a connection, 5 s to
 * finish) turn a burst of writes on one hot row (a product everyone orders) into errors once the
 * pool is busy; a short queue is better than a refused order. Still bounded: no request waits
 * longer than a client would.
 */
export const WRITE_TRANSACTION = { maxWait: 5_000, timeout: 10_000 } as const;
