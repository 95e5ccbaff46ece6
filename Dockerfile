# syntax=docker/dockerfile:1
# The broker as a small, non-root image that runs with a read-only root filesystem.
#   docker build -t credential-broker .
#   docker run --read-only --tmpfs /run/credential-broker -v /etc/credential-broker:/etc/credential-broker:ro credential-broker
# Pinned by version: bump deliberately (and pin by digest in your own registry).
ARG NODE_IMAGE=node:20.19-bookworm-slim

# 1. Build: every dependency (TypeScript, the kerberos addon's toolchain), then dist/.
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libkrb5-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# `prepare` builds dist/ during the install.
RUN npm ci --no-audit --no-fund

# 2. Production dependencies only (the kerberos addon compiled against the same Node).
FROM build AS deps
RUN rm -rf node_modules \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild kerberos

# 3. Run: Node, the Kerberos runtime libraries, the compiled broker. No compilers, no dev deps.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libkrb5-3 libgssapi-krb5-2 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    RUNTIME_DIRECTORY=/run/credential-broker \
    KRB5CCNAME=FILE:/run/credential-broker/krb5cc
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
COPY bin ./bin
COPY config ./config
# The only place the broker writes (client token, Kerberos cache): mount a tmpfs or an emptyDir
# here when the root filesystem is read-only.
RUN mkdir -p /run/credential-broker && chown 1000:1000 /run/credential-broker
VOLUME ["/run/credential-broker"]
# Numeric, so that Kubernetes runAsNonRoot can verify it (the image's "node" user).
USER 1000:1000
EXPOSE 9911
# Node rather than curl: the image has no curl, and this needs nothing else. Another port in
# server.listen: set HEALTHCHECK_URL.
ENV HEALTHCHECK_URL=http://127.0.0.1:9911/healthz
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/credential-broker.js"]
CMD ["serve", "--config", "/etc/credential-broker/config.yaml"]
