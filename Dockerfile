# syntax=docker/dockerfile:1
#
# Two images from one file (README.md, "Run it in Kubernetes"):
#   docker build -t pilotfish .                        the sidecar (default, last stage): `pilotfish run`
#   docker build --target init -t pilotfish-init .     the init container: `pilotfish iptables`
#
# Both run on a read-only root filesystem: nothing is written outside the mounted policy's
# directory, which is read-only too.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript to dist/ and bundle the CLI (rolldown.config.mjs) --------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here, and the `node` devDependency's
# second runtime is pointless in an image that already is Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json rolldown.config.mjs ./
COPY src ./src
RUN npm run build

# ---- prod-deps: production dependencies only, no dev tools ----------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime-base: Node without its package managers -----------------------------------------------
FROM ${NODE_IMAGE} AS runtime-base
# Nothing at run time installs packages: npm, npx, corepack and yarn only widen the attack surface.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg \
 && groupadd --system --gid 1337 pilotfish \
 && useradd --system --uid 1337 --gid 1337 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pilotfish
ENV NODE_ENV=production
WORKDIR /app

# ---- init: the traffic-capture init container ------------------------------------------------------
FROM runtime-base AS init
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
COPY package.json ./
# `pilotfish iptables` uses Node's built-ins only: the compiled code is all it needs.
COPY --from=build /build/dist ./dist
# iptables needs root (and CAP_NET_ADMIN, granted by the pod spec) in the pod's network namespace;
# the container exits as soon as the rules are in.
USER 0:0
ENTRYPOINT ["node", "/app/dist/kube/init-main.js"]

# ---- sidecar (default target) ---------------------------------------------------------------------
FROM runtime-base AS sidecar
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /build/dist ./dist
# A default policy so the image starts on its own; in a pod the ConfigMap mounted here replaces it.
COPY config/policy.yaml /etc/pilotfish/policy.yaml
ENV PILOTFISH_POLICY=/etc/pilotfish/policy.yaml
# The allocator's environment (src/cli/v8-flags.ts: SIDECAR_ENV): glibc reads it when node starts, so it
# is set here rather than by the sidecar. One malloc arena keeps ~7 MiB after a c50 load and up to ~35
# after c500 off the RSS; fixed trim and mmap thresholds return what the start freed (~0.9 MiB idle).
ENV MALLOC_ARENA_MAX=1 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=4194304
# Node's compile cache (src/cli/main.ts), warmed here by one start of the sidecar as it runs in the
# pod (uid 1337, the entry point's flags: Node keys the cache by both) that exits cleanly on SIGTERM,
# which is when Node writes it (the signal handler is set just after the `listening` line: hence the
# second's wait); then handed to root and left read-only. A start with it reads V8's code
# for the bundle instead of compiling it (~620 against ~730 M instructions to ready,
# docs/benchmarks.md); modules it does not hold (a policy's lazily loaded parts) compile as before,
# and their cache writes fail silently on the read-only directory, as does everything under another uid.
ENV NODE_COMPILE_CACHE=/app/compile-cache
RUN install -d -o 1337 -g 1337 /app/compile-cache
USER 1337:1337
RUN node --max-semi-space-size=8 /app/dist/cli/main.js run > /dev/null 2> /tmp/warm.log & pid=$!; \
    for _ in $(seq 1 300); do grep -q '"listening"' /tmp/warm.log && break; sleep 0.1; done; \
    grep -q '"listening"' /tmp/warm.log || { cat /tmp/warm.log; exit 1; }; \
    sleep 1; \
    kill -TERM "$pid" && wait "$pid" && rm /tmp/warm.log
USER 0:0
# Owned by root and not writable by the proxy: uid 1337 only reads its code, policy and compile cache.
RUN chown -R 0:0 /app/compile-cache && chmod -R a+rX,go-w /app/compile-cache
USER 1337:1337
# 15001 outbound, 15006 inbound, 15020 metrics and health. The admin API (15000) stays on loopback.
EXPOSE 15001 15006 15020
# The young-generation size is a V8 start-up flag (src/cli/v8-flags.ts: SIDECAR_V8_FLAGS, the same
# value); on node's command line here, so the sidecar does not re-execute itself to get it.
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/cli/main.js", "run"]
