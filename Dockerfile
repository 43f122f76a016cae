# syntax=docker/dockerfile:1
# Container image for libvirt-memory-exporter, on Debian 12 like the project's build scripts.
#
#   docker build -t libvirt-memory-exporter:0.1.0 .
#   docker run -d --name libvirt-memory-exporter --restart unless-stopped \
#     -p 9177:9177 -v /run/libvirt:/run/libvirt:ro libvirt-memory-exporter:0.1.0
#
# Mount the socket directory, not the socket file: libvirtd (or virtqemud) recreates its socket when
# it restarts, and a bind mount of the file would keep pointing at the old one. The directory also
# holds both the monolithic (libvirt-sock-ro) and the modular (virtqemud-sock-ro) sockets, so the
# client finds whichever the host runs. Arguments after the image name go to the exporter, e.g.
# --log.level=debug; settings can also come from LIBVIRT_EXPORTER_* environment variables.
# tests/deploy/check-dockerfile.sh checks this file without a Docker engine.

FROM debian:bookworm AS build
WORKDIR /src
# The dependency script alone first, so the apt layer stays cached while the sources change.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN BUILD_DIR=/build scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DLME_BUILD_TESTS=OFF \
    && cmake --install /build --prefix /usr/local --strip

FROM debian:bookworm-slim
# Only the packages of the shared libraries the binary links (libvirt.so.0,
# libprometheus-cpp-core.so.1.0, libxml2.so.2, libyaml-cpp.so.0.7 for the web config,
# libssl.so.3/libcrypto.so.3 for TLS); libstdc++6, libgcc-s1, libcrypt1, zlib1g (gzip) and libc6
# are in the base image already. Boost is header-only: nothing of it at run time.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libvirt0 libprometheus-cpp-core1.0 libxml2 libyaml-cpp0.7 libssl3 \
    && rm -rf /var/lib/apt/lists/*
# nobody:nogroup (65534). libvirtd looks the connecting UID and GID up in the *host's* user
# database and refuses IDs it cannot find ("Failed to find user record for uid"); 65534 exists on
# practically every host, an image-specific UID would not. Numeric, so that Kubernetes'
# runAsNonRoot can verify it. libvirt's read-only socket accepts any local user by default
# (mode 0777, polkit allows monitoring to anyone): no libvirt group membership is needed.
COPY --from=build /usr/local/bin/libvirt-memory-exporter /usr/local/bin/libvirt-memory-exporter
USER 65534:65534
EXPOSE 9177
ENTRYPOINT ["/usr/local/bin/libvirt-memory-exporter"]
