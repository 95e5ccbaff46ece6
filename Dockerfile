# The broker as a small, non-root image that runs with a read-only root filesystem
# (docs/operations.md, "Container", says the same with the reasons):
#   docker build -t credential-broker .
#   docker run --read-only --network host \
#     --tmpfs /run/credential-broker:uid=1000,gid=1000,mode=0750 \
#     -v /etc/credential-broker:/etc/credential-broker:ro credential-broker
# --network host: credentials are served over plain http on loopback only, so the apps share the
# broker's network namespace (the host's here, or a pod's); no port is published (see EXPOSE below).
# podman: `podman build --format docker` (the OCI format drops HEALTHCHECK), and
# `--tmpfs /run/credential-broker:U` (a plain tmpfs there is root-owned 0755: exit 78, EACCES).
# Pinned by version: bump deliberately (and pin by digest in your own registry). Node 24 is the
# active LTS line; package.json's engines (>=20) is what the broker itself needs.
ARG NODE_IMAGE=node:24.11-bookworm-slim

# 1. Build: every dependency (TypeScript, esbuild), then the bundle the image runs (scripts/bundle.ts,
# as the .deb): the broker in a few dozen files instead of ~1,500 modules in node_modules, which
# starts faster and holds less memory (docs/performance.md). The build does not need the kerberos
# addon (its types are in src/sources/kerberos-addon.ts), so no install script runs here.
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libkrb5-dev \
 && rm -rf /var/lib/apt/lists/*
# node-gyp would download the Node headers from the internet; the official image has them here.
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm run build \
 && npm run bundle

# 2. The optional kerberos addon, compiled against this Node, into /addons (empty when it cannot be
# built). The image is still made then, and the build log says so: Kerberos profiles fail with
# KERBEROS_UNAVAILABLE (docs/kerberos.md), every other source works.
FROM build AS addons
RUN mkdir -p /addons \
 && if npm rebuild kerberos && node -e "require('kerberos')"; then \
      cp -r node_modules/kerberos /addons/ && echo "kerberos addon: built"; \
    else \
      echo "WARNING: the kerberos addon could not be built (see the npm output above): this image serves every source but Kerberos, whose profiles fail with KERBEROS_UNAVAILABLE. It needs libkrb5-dev, python3, make, g++ and the Node headers (npm_config_nodedir)." >&2; \
    fi

# 3. Run: Node, the Kerberos runtime libraries, the bundle and the two packages it loads from a
# node_modules folder beside it (scripts/bundle.ts says why). No compilers, no node_modules tree.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libkrb5-3 libgssapi-krb5-2 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    RUNTIME_DIRECTORY=/run/credential-broker \
    KRB5CCNAME=FILE:/run/credential-broker/krb5cc
WORKDIR /app
COPY --from=build /src/dist/bundle ./lib
COPY --from=build /src/node_modules/xmllint-wasm ./lib/node_modules/xmllint-wasm
COPY --from=addons /addons ./node_modules
COPY config ./config
# The only place the broker writes (client token, Kerberos cache): mount a tmpfs or an emptyDir
# here when the root filesystem is read-only.
RUN mkdir -p /run/credential-broker && chown 1000:1000 /run/credential-broker && chmod 0750 /run/credential-broker
VOLUME ["/run/credential-broker"]
# Numeric, so that Kubernetes runAsNonRoot can verify it (the image's "node" user).
USER 1000:1000
# No EXPOSE: the default listener is 127.0.0.1:9911, which a published port cannot reach. To
# publish one, the config must listen on 0.0.0.0:9911 with server.tls (plain http is refused off
# loopback), then `-p 9911:9911`.
# Node rather than curl: the image has no curl, and this needs nothing else. Another port in
# server.listen: set HEALTHCHECK_URL.
ENV HEALTHCHECK_URL=http://127.0.0.1:9911/healthz
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# --max-semi-space-size=4 caps V8's young generation: ~22 MB less resident memory for ~5% more
# CPU per request (scripts/node-flags.ts says why; the .deb's launcher passes the same flags to
# `serve`, which is what this image runs).
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/lib/credential-broker.mjs"]
CMD ["serve", "--config", "/etc/credential-broker/config.yaml"]
