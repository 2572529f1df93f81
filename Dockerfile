# Dialtone's container image: the release binary on a slim Debian, run as a user of its own.
#   docker build -t dialtone .
#   docker run -p 8080:8080 -p 6970:6970 dialtone demo      # the demo on SQLite
# For a cluster on PostgreSQL see compose.yaml and docs/scale-out.md.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# The server alone (not the fleet simulator, the benchmarks or the fuzz targets).
RUN cargo build --release --locked -p dialtone --bin dialtone \
    && strip target/release/dialtone

FROM debian:bookworm-slim
# CA certificates for LDAPS to a directory signed by a public authority.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/dialtone --create-home dialtone
COPY --from=build /src/target/release/dialtone /usr/local/bin/dialtone
USER dialtone
WORKDIR /var/lib/dialtone
# Every listener on every interface of the container, on ports a user may bind (TFTP on 6969:
# publish it as 69/udp; SIP and syslog as 5060/udp and 514/udp). The SQLite file, the secret
# key and the self-signed certificate are made here (a volume keeps them).
ENV DIALTONE_ADMIN__LISTEN=0.0.0.0:8080 \
    DIALTONE_ADMIN__HTTPS_LISTEN=0.0.0.0:8443 \
    DIALTONE_HTTP__LISTEN=0.0.0.0:6970 \
    DIALTONE_TFTP__LISTEN=0.0.0.0:6969 \
    DIALTONE_SIP__LISTEN=0.0.0.0:5060 \
    DIALTONE_SYSLOG__LISTEN=0.0.0.0:5514 \
    DIALTONE_DATABASE__URL=sqlite:/var/lib/dialtone/dialtone.db
VOLUME /var/lib/dialtone
EXPOSE 8080 8443 6970 6969/udp 5060/udp 5514/udp
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["dialtone", "healthcheck", "--admin", "127.0.0.1:8080"]
ENTRYPOINT ["dialtone"]
CMD ["serve"]
