import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

const NAMES = ["JWT_SECRET", "INTERNAL_AUTH_SECRET"] as const;

/**
 * `npm start` must work with nothing configured, and secrets never go in the repo. So where
 * JWT_SECRET or INTERNAL_AUTH_SECRET is unset, a random one is generated once and kept in
 * DATA_DIR (git-ignored, mode 0600): signed-in Sandbox sessions survive a restart. Production
 * refuses this: there, both must be configured.
 */
export async function devSecrets(
  env: Record<string, string | undefined>,
  dataDir: string,
): Promise<Record<string, string>> {
  const missing = NAMES.filter((name) => !env[name]);
  if (!missing.length) return {};
  if (env.NODE_ENV === "production") {
    throw new Error(`Set ${missing.join(" and ")}: generated development secrets are not used in production.`);
  }
  const file = path.join(dataDir, "dev-secrets.json");
  let stored: Record<string, string> = {};
  try {
    stored = JSON.parse(await readFile(file, "utf8")) as Record<string, string>;
  } catch {
    // First start (or the file was wiped): generate below.
  }
  let changed = false;
  for (const name of missing) {
    if (typeof stored[name] !== "string" || stored[name].length < 32) {
      stored[name] = randomBytes(48).toString("base64url");
      changed = true;
    }
  }
  if (changed) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  }
  return Object.fromEntries(missing.map((name) => [name, stored[name] as string]));
}
