# Switchyard's gateway image: Envoy, the switchyard-filter .wasm, the `switchyard`
# command, `switchyard-keyservice` and `switchyard-operator` (deploy/kubernetes runs
# it beside Envoy), built from this checkout. A LiteLLM user
# replaces the image name in LiteLLM's `docker run` line and nothing else:
#
#   docker run -v $(pwd)/config.yaml:/app/config.yaml -e LITELLM_MASTER_KEY=sk-1234 \
#     -p 4000:4000 ghcr.io/switchyard-gateway/switchyard:latest \
#     --config /app/config.yaml --detailed_debug
#
# docs/deploy-docker.md has the details. The file works with Docker's legacy builder
# as well as BuildKit (no RUN --mount, no heredocs).

# The Rust release the image is built with (rust:<RUST_VERSION>-slim-bookworm).
ARG RUST_VERSION=1.95

# The workspace's manifests with stub sources (deploy/cargo-skeleton): the next
# stage builds every dependency from them in a layer that a source edit keeps.
FROM debian:bookworm-slim AS skeleton
WORKDIR /src
COPY . .
RUN sh deploy/cargo-skeleton /skeleton

FROM rust:${RUST_VERSION}-slim-bookworm AS build
RUN rustup target add wasm32-wasip1
WORKDIR /src
COPY --from=skeleton /skeleton/ ./
RUN cargo build --locked --release -p switchyard -p switchyard-keyservice -p switchyard-operator \
 && cargo build --locked -p switchyard-filter --target wasm32-wasip1 --profile wasm
COPY contract contract
COPY filter filter
COPY config config
COPY keyservice keyservice
COPY operator operator
# COPY keeps the files' times, which can be older than the stubs' builds: touch the
# sources so that cargo rebuilds Switchyard's crates from them.
RUN find contract filter config keyservice operator -name '*.rs' -exec touch {} + \
 && cargo build --locked --release -p switchyard -p switchyard-keyservice -p switchyard-operator \
 && cargo build --locked -p switchyard-filter --target wasm32-wasip1 --profile wasm \
 && strip target/release/switchyard target/release/switchyard-keyservice target/release/switchyard-operator

# The filter alone, for Istio's WasmPlugin (`url: oci://…`): one layer holding
# plugin.wasm, the "compat" variant of the Wasm image spec that Istio pulls.
#   docker build --target wasm -t ghcr.io/switchyard-gateway/switchyard-wasm:latest .
FROM scratch AS wasm
COPY --from=build /src/target/wasm32-wasip1/wasm/switchyard_filter.wasm /plugin.wasm

# The gateway (the default target).
FROM debian:bookworm-slim
# ca-certificates: the providers' TLS (render's default --ca-file); wget: the
# health check, as LiteLLM's compose file does it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates wget \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin switchyard \
 && mkdir -p /app && chown switchyard:switchyard /app
COPY --from=envoyproxy/envoy:v1.40.0 /usr/local/bin/envoy /usr/local/bin/envoy
COPY --from=build /src/target/release/switchyard /src/target/release/switchyard-keyservice /src/target/release/switchyard-operator /usr/local/bin/
COPY --from=build /src/target/wasm32-wasip1/wasm/switchyard_filter.wasm /usr/local/lib/switchyard/switchyard_filter.wasm
COPY config/example.yaml /app/config.yaml
# HOST: listen on every interface of the container (LiteLLM's default; `switchyard
# up` reads HOST and PORT as LiteLLM does). The keyservice is found next to the
# command; the work directory (rendered Envoy config, logs) is /app/.switchyard.
ENV HOST=0.0.0.0 \
    ENVOY_BIN=/usr/local/bin/envoy \
    SWITCHYARD_WASM=/usr/local/lib/switchyard/switchyard_filter.wasm
WORKDIR /app
USER 10001:10001
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${PORT:-4000}/health/liveliness" || exit 1
ENTRYPOINT ["switchyard"]
CMD ["--config", "/app/config.yaml"]
