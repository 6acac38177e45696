# syntax=docker/dockerfile:1
#
# PX360 image: one binary, `px360`. Default command `serve` runs web UI + API + worker + scheduler on
# an embedded SQLite file in /data. For PostgreSQL and separate processes see docker-compose.yml.

# ---- build ------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the crate registry and build artefacts between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -m 0755 target/release/px360 /usr/local/bin/px360

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 px360 \
 && useradd --system --uid 10001 --gid px360 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin px360 \
 && mkdir -p /data \
 && chown px360:px360 /data
COPY --from=builder /usr/local/bin/px360 /usr/local/bin/px360

ENV DATABASE_URL="sqlite:///data/px360.db?mode=rwc" \
    PX360_BIND="0.0.0.0:8000"
WORKDIR /data
USER px360:px360
VOLUME ["/data"]
EXPOSE 8000

# /health/ answers 200 when the database is reachable (status ok or degraded) and 503 when it is not.
# The port follows PX360_BIND. Processes without HTTP (worker, scheduler, migrate) disable this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${PX360_BIND##*:}/health/" || exit 1

ENTRYPOINT ["px360"]
CMD ["serve"]
