# syntax=docker/dockerfile:1
# The meshlet collector (`meshlet collector`): OTLP/HTTP on 4318; query API, Jaeger API, UI and /metrics
# on 16686; data in /var/lib/meshlet. Build from the repository root:
#   docker build -f deploy/docker/collector.Dockerfile -t meshlet/collector:0.1.0 .
#   docker run -p 4318:4318 -p 16686:16686 -v meshlet-data:/var/lib/meshlet meshlet/collector:0.1.0

# Production dependencies of every workspace (npm ci needs all workspace manifests to match the lockfile).
FROM node:24-bookworm-slim AS deps
WORKDIR /opt/meshlet
COPY package.json package-lock.json ./
COPY wire/package.json wire/
COPY proxy/package.json proxy/
COPY collector/package.json collector/
COPY runtime/package.json runtime/
COPY ui/package.json ui/
COPY bench/package.json bench/
COPY deploy/package.json deploy/
COPY examples/shop/package.json examples/shop/
# A workspace keeps its own node_modules where its versions differ from the root's; each is made to
# exist, so the COPY --from=deps lines below do not depend on the current dependency tree.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && mkdir -p wire/node_modules proxy/node_modules collector/node_modules

# The UI, built to static files (its bundler is a dev dependency).
FROM deps AS ui
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY wire wire
COPY ui ui
# Node from the image, not the `node` dev dependency's shim that `npm run` would put first on PATH.
RUN cd ui && node build.ts

FROM node:24-bookworm-slim
WORKDIR /opt/meshlet
COPY --from=deps /opt/meshlet/node_modules node_modules
COPY package.json ./
COPY bin bin
COPY wire wire
COPY --from=deps /opt/meshlet/wire/node_modules wire/node_modules
COPY collector collector
COPY --from=deps /opt/meshlet/collector/node_modules collector/node_modules
COPY --from=ui /opt/meshlet/ui/dist ui/dist
RUN mkdir -p /var/lib/meshlet && chown 10001:10001 /var/lib/meshlet
USER 10001:10001
VOLUME /var/lib/meshlet
# OTLP/HTTP in; query API + Jaeger-compatible API + UI + /metrics
EXPOSE 4318 16686
ENTRYPOINT ["node", "/opt/meshlet/bin/meshlet.js", "collector"]
CMD ["--otlp", "0.0.0.0:4318", "--http", "0.0.0.0:16686", "--data", "/var/lib/meshlet"]
