# Container image for libvirt-memory-exporter, on Debian 13 (trixie, the current stable release).
#
#   docker build -t libvirt-memory-exporter:0.1.0 .
#   docker build --build-arg DEBIAN_RELEASE=bookworm -t libvirt-memory-exporter:0.1.0-bookworm .
#   docker run -d --name libvirt-memory-exporter --restart unless-stopped \
#     --read-only --cap-drop all --security-opt no-new-privileges \
#     -p 9177:9177 -v /run/libvirt:/run/libvirt:ro libvirt-memory-exporter:0.1.0
#
# Mount the socket directory, not the socket file: libvirtd (or virtqemud) recreates its socket when
# it restarts, and a bind mount of the file would keep pointing at the old one. The directory also
# holds both the monolithic (libvirt-sock-ro) and the modular (virtqemud-sock-ro) sockets, so the
# client finds whichever the host runs. Arguments after the image name go to the exporter, e.g.
# --log.level=debug; settings can also come from LIBVIRT_EXPORTER_* environment variables.
# No "# syntax=" line: BuildKit would fetch that frontend from a registry, and this file needs none
# of its extensions, so an offline build works with any builder.
# tests/deploy/check-dockerfile.sh checks this file without an engine; tests/deploy/image-test.sh
# builds and runs it with podman (docs/deployment.md, "Tests").

# Both stages from one release: the runtime packages are derived from what the build stage linked.
ARG DEBIAN_RELEASE=trixie

FROM debian:${DEBIAN_RELEASE} AS build
WORKDIR /src
# The dependency script alone first, so the apt layer stays cached while the sources change.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# The runtime stage installs the packages that own the libraries the binary links (ldd + dpkg -S),
# as this release names them: no hand-kept list that only one release satisfies.
RUN BUILD_DIR=/build scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DLME_BUILD_TESTS=OFF \
    && cmake --install /build --prefix /usr/local --strip \
    && mkdir -p /usr/local/share/libvirt-memory-exporter \
    && scripts/runtime-packages.sh /usr/local/bin/libvirt-memory-exporter \
       > /usr/local/share/libvirt-memory-exporter/runtime-packages

FROM debian:${DEBIAN_RELEASE}-slim
# Kept in the image: it says which packages were installed for the binary, and why.
COPY --from=build /usr/local/share/libvirt-memory-exporter/runtime-packages /usr/local/share/libvirt-memory-exporter/runtime-packages
RUN apt-get update \
    && xargs --no-run-if-empty --arg-file=/usr/local/share/libvirt-memory-exporter/runtime-packages \
       env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# nobody:nogroup (65534). libvirtd looks the connecting UID and GID up in the *host's* user
# database and refuses IDs it cannot find ("Failed to find user record for uid"); 65534 exists on
# practically every host, an image-specific UID would not. Numeric, so that Kubernetes'
# runAsNonRoot can verify it. libvirt's read-only socket accepts any local user by default
# (mode 0777, polkit allows monitoring to anyone): no libvirt group membership is needed.
COPY --from=build /usr/local/bin/libvirt-memory-exporter /usr/local/bin/libvirt-memory-exporter
USER 65534:65534
EXPOSE 9177
ENTRYPOINT ["/usr/local/bin/libvirt-memory-exporter"]
