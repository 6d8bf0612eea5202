# syntax=docker/dockerfile:1
# ihf-webhooks: built with the Rust toolchain image, run on slim Debian as a
# non-root user. See the README, "Deploy as a sidecar", and deploy/.
#
#   docker build -t ihf-webhooks .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://… ihf-webhooks

# The base images are build arguments, so a machine without a registry can
# build on local images (.ci/image.sh makes them):
#   docker build --build-arg RUST_IMAGE=… --build-arg RUNTIME_IMAGE=… .
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The whole workspace (.dockerignore keeps target/, .git and the like out).
COPY . .
# Cache mounts keep the crate registry and compiled dependencies between
# builds; the binary is copied out because the cached target/ is not a layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ihf-webhooks \
 && cp target/release/ihf-webhooks /usr/local/bin/ihf-webhooks

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 ihf \
 && useradd --system --uid 10001 --gid ihf --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin ihf
COPY --from=build /usr/local/bin/ihf-webhooks /usr/local/bin/ihf-webhooks
USER 10001:10001

# Listen on all interfaces so probes and Prometheus can reach the container;
# `healthcheck` asks 127.0.0.1 when IHF_LISTEN is a wildcard address.
# IHF_MIGRATE_ON_START=true makes `serve` apply migrations before starting.
ENV IHF_LISTEN=0.0.0.0:8080 \
    IHF_MIGRATE_ON_START=false
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["ihf-webhooks", "healthcheck"]
ENTRYPOINT ["ihf-webhooks"]
CMD ["serve"]
