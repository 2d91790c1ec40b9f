# syntax=docker/dockerfile:1
#
# Every Tendon image from one file. One build stage compiles the workspace with pnpm and
# `pnpm deploy --prod`s each service into /out/<name> (its dist/ plus production node_modules,
# workspace packages included); each final stage copies one of those onto a slim Node runtime.
#
#   docker build --target gateway          -t tendon/gateway .
#   docker build --target session-log      -t tendon/session-log .
#   docker build --target harness-worker   -t tendon/harness-worker .
#   docker build --target sandbox-manager  -t tendon/sandbox-manager .   (+ bubblewrap)
#   docker build --target credential-proxy -t tendon/credential-proxy .
#   docker build --target cli              -t tendon/cli .               (migrations, db roles, keys)
#   docker build --target mock-model       -t tendon/mock-model .        (scripted model, demos)
#   docker build --target sandbox          -t tendon/sandbox .           (docker/kubernetes sandbox providers)
#
# Every service image runs as the unprivileged `node` user (uid 1000) and has a HEALTHCHECK on its
# ops listener (OPS_PORT, 9464: /healthz, /readyz, /metrics). The base image is pinned to a full
# Node version; pin it by digest in your registry mirror for reproducible builds.

FROM node:20.19.5-bookworm-slim AS base
ENV NODE_ENV=production \
    OPS_PORT=9464
WORKDIR /app

# ---------------------------------------------------------------------------------------------
FROM base AS build
ENV NODE_ENV=development
RUN npm install -g --no-fund --no-audit pnpm@12.4.2
WORKDIR /src
# Dependencies first (cached while only sources change): `pnpm fetch` needs the lockfile alone.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch --frozen-lockfile
COPY . .
RUN pnpm install --frozen-lockfile --offline \
 && pnpm build \
 && for p in gateway session-log harness-worker sandbox-manager credential-proxy cli mock-model sandbox; do \
      pnpm --filter "@tendon/$p" deploy --prod "/out/$p" || exit 1; \
    done \
 && rm -rf /out/*/src

# ---------------------------------------------------------------------------------------------
# Shared runtime for the services: an ops-port HEALTHCHECK that needs nothing but node.
FROM base AS service
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

FROM service AS gateway
COPY --from=build /out/gateway /app
ENV PORT=8080
EXPOSE 8080
USER node

FROM service AS session-log
COPY --from=build /out/session-log /app
USER node

FROM service AS harness-worker
COPY --from=build /out/harness-worker /app
USER node

FROM service AS credential-proxy
COPY --from=build /out/credential-proxy /app
EXPOSE 3128
USER node

# The process provider runs each sandbox with bubblewrap (user, mount, PID and network namespaces):
# the container needs unprivileged user namespaces (seccomp/AppArmor "unconfined" for this
# container only; see infra/compose.yaml and infra/k8s). /usr of this image is what sandboxed
# tools see, so the tools an agent expects (git, ripgrep, ca-certificates) are installed here.
FROM service AS sandbox-manager
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap util-linux bash git ripgrep ca-certificates procps \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/tendon/sandboxes \
 && chown node:node /var/lib/tendon/sandboxes
COPY --from=build /out/sandbox-manager /app
ENV TENDON_SANDBOX_DIR=/var/lib/tendon/sandboxes
USER node

# ---------------------------------------------------------------------------------------------
# The `tendon` command: the one-shot migrate job (`tendon db roles`, `tendon migrate`), keys.
FROM base AS cli
COPY --from=build /out/cli /app
HEALTHCHECK NONE
USER node
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["help"]

# The scripted Messages-API model (compose profile "mock"; demos and smoke tests).
FROM base AS mock-model
COPY --from=build /out/mock-model /app
ENV MOCK_MODEL_HOST=0.0.0.0 \
    MOCK_MODEL_PORT=8090
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.MOCK_MODEL_PORT+'/_mock/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
USER node
CMD ["node", "dist/main.js"]

# One sandbox for the docker and kubernetes sandbox providers: the hand runtime at
# /opt/tendon/sandbox/dist/hand/main.js, speaking the hand protocol on stdin/stdout, plus the tools
# an agent expects. No network of its own: egress goes through the in-sandbox proxy listener.
FROM base AS sandbox
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash coreutils git ripgrep ca-certificates procps \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /workspace /etc/tendon \
 && chown node:node /workspace /etc/tendon
COPY --from=build /out/sandbox /opt/tendon/sandbox
WORKDIR /workspace
HEALTHCHECK NONE
USER node
CMD ["sleep", "infinity"]
