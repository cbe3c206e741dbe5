# syntax=docker/dockerfile:1.7
# One image holding Upcheck's four binaries: upcheck-api (default command; `upcheck-api migrate`
# runs the migrations, `upcheck-api gen-secret --out PATH` writes a JWT secret once) and the
# three workers. Build: docker build -t upcheck:latest .

# ---- builder: dependencies and build output live in BuildKit cache mounts, so a change to
# Upcheck's own code rebuilds only the workspace crates, not the ~300 dependencies. The `dist`
# profile (Cargo.toml) is release without debug info and with symbols stripped.
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked --bins \
      -p upcheck-api -p upcheck-worker-monitoring -p upcheck-worker-status-change -p upcheck-worker-notification \
 && mkdir -p /out \
 && cp target/dist/upcheck-api target/dist/upcheck-worker-monitoring \
       target/dist/upcheck-worker-status-change target/dist/upcheck-worker-notification /out/

# ---- runtime: Debian slim, CA certificates (for https probes, webhooks, sslmode=verify-full,
# rediss://), a non-root user, no shell tools needed: `<binary> healthcheck` probes /healthz.
FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="upcheck" \
      org.opencontainers.image.description="Uptime monitoring backend: REST API and the monitoring, status-change and notification workers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      org.opencontainers.image.source="https://github.com/upcheck/upcheck" \
      org.opencontainers.image.documentation="https://github.com/upcheck/upcheck#readme"
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin upcheck \
 && install -d -o 10001 -g 10001 -m 0700 /run/upcheck
COPY --from=builder /out/ /usr/local/bin/
USER 10001:10001
# /run/upcheck (owned by 10001, mode 0700): where `upcheck-api gen-secret` writes the JWT secret;
# a named volume mounted there starts with this owner and mode.
# METRICS_BIND_ADDRESS=0.0.0.0: inside a container loopback is unreachable to Prometheus and to
# a published port; compose publishes METRICS_PORT on the host's loopback only.
# MIMALLOC_ARENA_EAGER_COMMIT=0: mimalloc (the binaries' allocator) otherwise commits its first
# arena up front, which doubles an idle process's resident memory (BENCHMARKS.md, "Profile and fixes").
ENV BIND_ADDRESS=0.0.0.0 \
    PORT=8080 \
    HEALTH_PORT=8081 \
    METRICS_PORT=9090 \
    METRICS_BIND_ADDRESS=0.0.0.0 \
    LOG_FORMAT=json \
    MIMALLOC_ARENA_EAGER_COMMIT=0
EXPOSE 8080 8081 9090
# For the API (the default command); compose gives each worker its own `<binary> healthcheck`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["upcheck-api", "healthcheck"]
STOPSIGNAL SIGTERM
CMD ["upcheck-api"]
