# syntax=docker/dockerfile:1
# bedrock-cost-exporter container image.
#   docker build -t bedrock-cost-exporter .
#   docker run --rm -p 9747:9747 -e AWS_REGION=us-east-1 -e BCE_SOURCE=s3://bucket/prefix/export bedrock-cost-exporter
# There is no default source: without one (BCE_SOURCE, --source, or `source` in a --config file)
# the exporter stops at start with exit status 78 and says how to set one. Example data, dated to
# the present and marked as such in its manifests:
#   docker run --rm -v bce-demo:/var/lib/bedrock-cost-exporter/demo --entrypoint /usr/bin/cur-sample \
#     bedrock-cost-exporter --demo --out /var/lib/bedrock-cost-exporter/demo/export
#   docker run --rm -p 9747:9747 -v bce-demo:/var/lib/bedrock-cost-exporter/demo:ro \
#     -e BCE_SOURCE=/var/lib/bedrock-cost-exporter/demo/export bedrock-cost-exporter
# (the compose demo, deploy/compose/compose.yaml, does exactly this).
# Build stage: the toolchain the project pins (Cargo.toml rust-version) with a C compiler.
# Runtime stage: distroless "cc" (glibc, libgcc, CA certificates), no shell, no package manager,
# non-root user 65532. The health check is the binary's own `healthcheck` subcommand.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tools ./tools
# The exporter, and cur-sample (tools/cur-sample, a workspace member) for the demo's example data.
RUN cargo build --release --locked -p bedrock-cost-exporter -p cur-sample \
    && cp target/release/bedrock-cost-exporter target/release/cur-sample / \
    && mkdir -p /state/demo

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="bedrock-cost-exporter" \
      org.opencontainers.image.description="Amazon Bedrock cost per IAM principal, model, region and token direction, from the CUR 2.0 bill, for Prometheus" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /bedrock-cost-exporter /usr/local/bin/bedrock-cost-exporter
COPY --from=build /cur-sample /usr/bin/cur-sample
# An empty directory owned by the runtime user: a named volume mounted here starts with its
# ownership, so `cur-sample --demo --out /var/lib/bedrock-cost-exporter/demo/export` can write.
COPY --from=build --chown=65532:65532 /state /var/lib/bedrock-cost-exporter
WORKDIR /var/lib/bedrock-cost-exporter
# Listen on every address of the container; `healthcheck` reads the same variable and probes
# 127.0.0.1. Set the listen address with BCE_LISTEN (not --listen) so both agree.
ENV BCE_LISTEN=0.0.0.0:9747
USER 65532:65532
EXPOSE 9747
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/bedrock-cost-exporter", "healthcheck", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/bedrock-cost-exporter"]
CMD ["serve"]
