# One image for all five services; docker-compose.yml picks the entry point per service.
FROM node:20.19.5-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/common/package.json packages/common/
COPY gateway/package.json gateway/
COPY subgraphs/users/package.json subgraphs/users/
COPY subgraphs/products/package.json subgraphs/products/
COPY subgraphs/orders/package.json subgraphs/orders/
COPY subgraphs/inventory/package.json subgraphs/inventory/
# Dev dependencies are needed at run time: tsx runs the TypeScript, prisma generates the clients.
# --ignore-scripts: the root postinstall needs scripts/, which is copied below; the clients are
# generated after that, and no dependency needs an install script (npm test runs the same way).
RUN npm ci --include=dev --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run generate && chown -R node:node /app
USER node
# The service is chosen by the command, e.g. ["node", "--import", "tsx", "--import",
# "@catalog/common/telemetry", "gateway/src/index.ts"] (the second import starts tracing when configured).
CMD ["node", "--import", "tsx", "--import", "@catalog/common/telemetry", "gateway/src/index.ts"]
