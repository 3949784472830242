# One image for all five services; the command picks the entry point, e.g.
#   node --conditions=catalog-compiled --import @catalog/common/telemetry subgraphs/users/dist/index.js
# (docker-compose.yml names each). `--conditions=catalog-compiled` points our workspace packages
# at their compiled dist/ (docs/decisions/0015). The runtime stage runs plain node on JavaScript:
# no tsx, no TypeScript, no Prisma CLI, no dev dependencies. scripts/image-check.ts rebuilds the
# runtime stage's layout from the COPY lines below and runs it, so keep them simple: one source
# per line, --from a stage, destinations relative to WORKDIR.

# --- manifests: what npm ci reads, shared by the two install stages -----------------------------
FROM node:20.19.5-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/common/package.json packages/common/
COPY gateway/package.json gateway/
COPY subgraphs/users/package.json subgraphs/users/
COPY subgraphs/products/package.json subgraphs/products/
COPY subgraphs/orders/package.json subgraphs/orders/
COPY subgraphs/inventory/package.json subgraphs/inventory/

# --- build: every dependency, Prisma clients generated, every workspace compiled ---------------
FROM manifests AS build
# --ignore-scripts: the root postinstall (prisma generate) needs the sources, copied next; no
# dependency needs an install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore keeps .env files, keys, .data/, node_modules and build output out of this copy.
COPY . .
RUN npm run generate && npm run build

# --- deps: runtime dependencies only ----------------------------------------------------------
FROM manifests AS deps
ENV NODE_ENV=production
COPY scripts/prune-dev-optional.mjs scripts/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && node scripts/prune-dev-optional.mjs

# --- runtime: what the services read at run time, and nothing else ----------------------------
FROM node:20.19.5-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json files carry "type": "module" and the exports that lead to dist/.
COPY --from=deps /app/package.json package.json
COPY --from=deps /app/packages/common/package.json packages/common/package.json
COPY --from=deps /app/gateway/package.json gateway/package.json
COPY --from=deps /app/subgraphs/users/package.json subgraphs/users/package.json
COPY --from=deps /app/subgraphs/products/package.json subgraphs/products/package.json
COPY --from=deps /app/subgraphs/orders/package.json subgraphs/orders/package.json
COPY --from=deps /app/subgraphs/inventory/package.json subgraphs/inventory/package.json
COPY --from=deps /app/node_modules node_modules
# Compiled code, the generated Prisma clients included (subgraphs/<name>/dist/generated).
COPY --from=build /app/packages/common/dist packages/common/dist
COPY --from=build /app/gateway/dist gateway/dist
COPY --from=build /app/subgraphs/users/dist subgraphs/users/dist
COPY --from=build /app/subgraphs/products/dist subgraphs/products/dist
COPY --from=build /app/subgraphs/orders/dist subgraphs/orders/dist
COPY --from=build /app/subgraphs/inventory/dist subgraphs/inventory/dist
# `npm start` (the whole system in one process) and the db:migrate / db:seed scripts, compiled.
COPY --from=build /app/dist dist
COPY --from=build /app/scripts/npm-start.mjs scripts/npm-start.mjs
# Read at run time: each subgraph's SDL, the migration SQL, the supergraph and partners' manifests.
COPY --from=build /app/subgraphs/users/schema.graphql subgraphs/users/schema.graphql
COPY --from=build /app/subgraphs/products/schema.graphql subgraphs/products/schema.graphql
COPY --from=build /app/subgraphs/orders/schema.graphql subgraphs/orders/schema.graphql
COPY --from=build /app/subgraphs/inventory/schema.graphql subgraphs/inventory/schema.graphql
COPY --from=build /app/prisma/users/migrations prisma/users/migrations
COPY --from=build /app/prisma/products/migrations prisma/products/migrations
COPY --from=build /app/prisma/orders/migrations prisma/orders/migrations
COPY --from=build /app/prisma/inventory/migrations prisma/inventory/migrations
COPY --from=build /app/schema schema
# Everything above stays root-owned and read-only to the service user.
USER node
EXPOSE 4000
# The command picks the service; the telemetry bootstrap starts tracing when OTEL_* is configured.
CMD ["node", "--conditions=catalog-compiled", "--import", "@catalog/common/telemetry", "gateway/dist/index.js"]
