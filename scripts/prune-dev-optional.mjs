// Runs after `npm ci --omit=dev` in the image's deps stage. npm keeps a package that is a dev
// dependency and also an optional peer of a runtime dependency (package-lock.json marks it
// "devOptional"): @prisma/client names the Prisma CLI and TypeScript as optional peers, so both,
// with the CLI's ~30 dependencies, would ship. Nothing loads them at run time (the generated clients
// need @prisma/client's runtime only), so what the lockfile marks devOptional is removed here.
import { existsSync, readFileSync, rmSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const removed = Object.entries(lock.packages)
  .filter(([location, entry]) => location.startsWith("node_modules/") && entry.devOptional && existsSync(location))
  .map(([location]) => {
    rmSync(location, { recursive: true, force: true });
    return location.slice("node_modules/".length);
  });
console.error(`removed ${removed.length} packages only the Prisma CLI or TypeScript need: ${removed.join(", ")}`);
