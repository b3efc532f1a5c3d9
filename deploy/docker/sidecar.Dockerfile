# syntax=docker/dockerfile:1
# The meshlet sidecar (`meshlet proxy`), also the image of the iptables init container `meshlet inject`
# adds on Kubernetes. Build from the repository root:
#   docker build -f deploy/docker/sidecar.Dockerfile -t meshlet/sidecar:0.1.0 .
# Run beside an app (sharing its network namespace, like a pod):
#   docker run --network container:<app> -e MESHLET_PROXY_SERVICE=web -e MESHLET_PROXY_APP=127.0.0.1:8080 meshlet/sidecar:0.1.0

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

FROM node:24-bookworm-slim
# iptables for the init container; the sidecar itself needs nothing from the system but Node.
RUN apt-get update \
  && apt-get install -y --no-install-recommends iptables \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/meshlet
COPY --from=deps /opt/meshlet/node_modules node_modules
COPY package.json ./
COPY bin bin
COPY wire wire
COPY --from=deps /opt/meshlet/wire/node_modules wire/node_modules
COPY proxy proxy
COPY --from=deps /opt/meshlet/proxy/node_modules proxy/node_modules
# uid 1337: the pod's iptables rules exempt this uid from redirection (no loops).
USER 1337:1337
# admin (/ready, /metrics), outbound (app → mesh), inbound (mesh → app)
EXPOSE 15000 15001 15006
ENTRYPOINT ["node", "/opt/meshlet/bin/meshlet.js", "proxy"]
# The service and the app come from MESHLET_PROXY_SERVICE / MESHLET_PROXY_APP (or --service / --app).
CMD ["--inbound", "0.0.0.0:15006", "--outbound", "127.0.0.1:15001", "--admin", "0.0.0.0:15000"]
