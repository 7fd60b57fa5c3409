# Multi-stage build: compile with the pinned toolchain, run on a small Debian image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin minqing

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/minqing --create-home minqing
COPY --from=build /src/target/release/minqing /usr/local/bin/minqing
USER minqing
WORKDIR /var/lib/minqing
ENV MINQING_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["minqing"]
CMD ["serve"]
