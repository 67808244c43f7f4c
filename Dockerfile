# syntax=docker/dockerfile:1
# One image recipe for the four services; which one is a build argument. Build context: the
# repository root (docker-compose.yml sets both), e.g.
#   docker build --build-arg SERVICE=usage --build-arg PORT=8092 -t kana/usage .
ARG SERVICE=gateway

FROM node:20-slim AS base
# pnpm as pinned by package.json's packageManager, through corepack (no global npm install).
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true COREPACK_ENABLE_DOWNLOAD_PROMPT=0
RUN corepack enable && corepack prepare pnpm@10.34.8 --activate
WORKDIR /app
# Only the manifests: the dependency layers below are rebuilt when one of them or the
# lockfile changes, not on every source edit. Every workspace manifest is needed for
# --frozen-lockfile to match the lockfile's importers.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# Patches pnpm applies to dependencies at install (patchedDependencies in pnpm-workspace.yaml).
COPY patches patches/
COPY packages/schemas/package.json packages/schemas/
COPY packages/platform/package.json packages/platform/
COPY services/gateway/package.json services/gateway/
COPY services/identity/package.json services/identity/
COPY services/usage/package.json services/usage/
COPY services/rules/package.json services/rules/

# Build: all dependencies (TypeScript is a dev dependency), then compile the service and,
# through the project references, the packages it imports.
FROM base AS build
ARG SERVICE
RUN test -f "services/$SERVICE/package.json" || { echo "SERVICE must be gateway, identity, usage or rules (got '$SERVICE')" >&2; exit 1; }
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY services/$SERVICE services/$SERVICE
RUN pnpm exec tsc -b "services/$SERVICE"
# What the runtime needs of the service: compiled code, its SQL migrations (read from
# dist/../migrations at start) and the gateway's dashboard page (dist/../dashboard).
RUN mkdir -p /out && cp -r "services/$SERVICE/dist" /out/ \
 && if [ -d "services/$SERVICE/migrations" ]; then cp -r "services/$SERVICE/migrations" /out/; fi \
 && if [ -d "services/$SERVICE/dashboard" ]; then cp -r "services/$SERVICE/dashboard" /out/; fi

# Production dependencies of the service and of the workspace packages it uses, nothing else.
FROM base AS prod-deps
ARG SERVICE
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --prod --filter "@kana/$SERVICE..."

FROM node:20-slim AS runtime
ARG SERVICE
ARG PORT=8080
ENV NODE_ENV=production PORT=$PORT KANA_SERVICE=$SERVICE
WORKDIR /app
# The pnpm layout keeps its symlinks (services/<name>/node_modules/@kana/platform ->
# packages/platform), so the compiled output goes next to it at the same paths.
COPY --from=prod-deps --chown=node:node /app ./
COPY --from=build --chown=node:node /app/packages/schemas/dist packages/schemas/dist
COPY --from=build --chown=node:node /app/packages/platform/dist packages/platform/dist
COPY --from=build --chown=node:node /out/ services/$SERVICE/
USER node
EXPOSE $PORT
# Liveness only; docker-compose.yml checks /readyz to order start-up. node:20-slim has no
# curl, hence node's fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The shell only expands the service name and execs: node is PID 1 and handles SIGTERM itself
# (graceful shutdown in main.ts).
CMD ["/bin/sh", "-c", "exec node \"services/$KANA_SERVICE/dist/main.js\""]
