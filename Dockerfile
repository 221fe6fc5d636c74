# syntax=docker/dockerfile:1
# bedrock-cost-exporter container image.
#   docker build -t bedrock-cost-exporter .
#   docker run --rm -p 9747:9747 bedrock-cost-exporter                 # serves the bundled sample
#   docker run --rm -p 9747:9747 -e AWS_REGION=us-east-1 -e BCE_SOURCE=s3://bucket/prefix/export bedrock-cost-exporter
# Build stage: the toolchain the project pins (Cargo.toml rust-version) with a C compiler.
# Runtime stage: distroless "cc" (glibc, libgcc, CA certificates), no shell, no package manager,
# non-root user 65532. The health check is the binary's own `healthcheck` subcommand.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tools ./tools
RUN cargo build --release --locked --bin bedrock-cost-exporter \
    && cp target/release/bedrock-cost-exporter /bedrock-cost-exporter

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="bedrock-cost-exporter" \
      org.opencontainers.image.description="Amazon Bedrock cost per IAM principal, model, region and token direction, from the CUR 2.0 bill, for Prometheus" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /bedrock-cost-exporter /usr/local/bin/bedrock-cost-exporter
# The bundled sample export: the default source (relative to the working directory), so the image
# shows something before it is pointed at a real export.
COPY sample/export /usr/share/bedrock-cost-exporter/sample/export
WORKDIR /usr/share/bedrock-cost-exporter
# Listen on every address of the container; `healthcheck` reads the same variable and probes
# 127.0.0.1. Set the listen address with BCE_LISTEN (not --listen) so both agree.
ENV BCE_LISTEN=0.0.0.0:9747
USER 65532:65532
EXPOSE 9747
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/bedrock-cost-exporter", "healthcheck", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/bedrock-cost-exporter"]
CMD ["serve"]
