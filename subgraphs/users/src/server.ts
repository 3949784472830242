import { readFileSync } from "node:fs";
import { defineSubgraphServer, requireGatewayIdentity, type SubgraphDeps } from "@catalog/common";
import express from "express";
import { partnerService } from "./partners.ts";
import { parse } from "graphql";
import type { AccountDeps } from "./account.ts";
import { backgroundQueue } from "./background.ts";
import { createContext } from "./context.ts";
import { createMailer } from "./mailer.ts";
import { policies } from "./policies.ts";
import type { UsersPrisma } from "./prisma.ts";
import { resolvers } from "./resolvers/index.ts";
import { usersSettings } from "./settings.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/** Builds the users subgraph from injected dependencies. It never listens: index.ts does. */
export const buildUsersServer = defineSubgraphServer({
  name: "users",
  typeDefs,
  resolvers,
  policies,
  // Accounts' settings are parsed at boot; the mailer and the queue of mail to send are per process.
  async start(deps: SubgraphDeps<UsersPrisma>): Promise<AccountDeps & { stop(): Promise<void> }> {
    const settings = usersSettings(deps.env);
    const logger = deps.logger.child({ component: "accounts" });
    const mailer = createMailer(settings, logger);
    const background = backgroundQueue(logger);
    return {
      prisma: deps.prisma,
      cache: deps.cache,
      logger,
      settings,
      mailer,
      background,
      async stop() {
        // Mail asked for before the shutdown still goes out.
        await background.drain();
        await mailer.close();
      },
    };
  },
  createContext,
  // The public keys that verify access tokens (RS256); the gateway fetches them from here.
  routes: (app, deps) => {
    app.get("/.well-known/jwks.json", (_req, res) => {
      res.setHeader("cache-control", "public, max-age=300");
      res.json(deps.auth.issuer?.jwks() ?? { keys: [] });
    });
    // The gateway asks who is behind a partner's API key; only the gateway may ask.
    const partners = partnerService(deps.prisma);
    app.post(
      "/internal/partners/resolve",
      requireGatewayIdentity(deps.auth.internalSecrets),
      express.json({ limit: "4kb" }),
      async (req, res, next) => {
        try {
          const key: unknown = (req.body as { key?: unknown } | undefined)?.key;
          res.json({ partner: typeof key === "string" ? await partners.resolve(key) : null });
        } catch (error) {
          next(error);
        }
      },
    );
  },
});
