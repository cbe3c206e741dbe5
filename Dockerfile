# syntax=docker/dockerfile:1.7
# One image holding Upcheck's four binaries.
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
      -p upcheck-api -p upcheck-worker-monitoring -p upcheck-worker-status-change -p upcheck-worker-notification \
 && mkdir -p /out \
 && cp target/release/upcheck-api target/release/upcheck-worker-monitoring \
       target/release/upcheck-worker-status-change target/release/upcheck-worker-notification /out/

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="upcheck" \
      org.opencontainers.image.description="Uptime monitoring: API and workers" \
      org.opencontainers.image.licenses="AGPL-3.0-only"
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home upcheck
COPY --from=builder /out/ /usr/local/bin/
USER upcheck
EXPOSE 8080
CMD ["upcheck-api"]
