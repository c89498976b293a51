#!/usr/bin/env bash
# Make the Dockerfile's two default base images locally, for machines where no container
# registry can be reached (our CI). An image that already exists is left alone, so this is
# cheap after the first run; `podman rmi` the two tags to remake them.
#
#   tests/container/make_base_images.sh [Dockerfile]      (root; needs podman, debootstrap)
#
# They are stand-ins, tagged with the exact names the Dockerfile's FROM lines use so that the
# Dockerfile is built unchanged, but they are not the official images:
#
#   PYTHON_IMAGE (python:3.11-slim-bookworm): Debian by debootstrap with Debian's python3,
#       which is 3.11 on bookworm, like the tag says. Python lives in /usr, not /usr/local,
#       and the image is about twice the size of the official slim one.
#   RUST_IMAGE (rust:…-slim-bookworm): the Python stand-in plus this machine's Rust toolchain,
#       laid out like the official rust images (/usr/local/rustup, /usr/local/cargo/bin),
#       which is all the Dockerfile takes from it. Its version is whatever rustc is here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dockerfile=${1:-$here/../../Dockerfile}
arg_default() { sed -n "s/^ARG $1=//p" "$dockerfile" | head -n 1; }
python_image=$(arg_default PYTHON_IMAGE)
rust_image=$(arg_default RUST_IMAGE)
[[ -n $python_image && -n $rust_image ]] || {
    echo "no ARG PYTHON_IMAGE=/RUST_IMAGE= defaults in $dockerfile" >&2
    exit 1
}
# Short names resolve to the registry's library namespace; tag the full name so that FROM
# finds the local image instead of trying to pull it.
qualify() { case $1 in */*) echo "docker.io/$1" ;; *) echo "docker.io/library/$1" ;; esac; }
python_ref=$(qualify "$python_image")
rust_ref=$(qualify "$rust_image")

if podman image exists "$python_ref"; then
    echo "base image $python_ref exists"
else
    command -v debootstrap >/dev/null || { echo "debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
    release=${python_image##*-}  # python:3.11-slim-bookworm -> bookworm
    # apt's own mirror for that release, as configured on this machine.
    mirror=$(apt-cache policy | awk -v s=" $release/main " 'index($0, s) { print $2; exit }')
    [[ -n $mirror ]] || { echo "no apt source for $release/main on this machine" >&2; exit 1; }
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/rustpath-rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    echo "making $python_ref: debootstrap $release from $mirror"
    debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
        "$release" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
        { tail -n 30 "$rootfs.log" >&2; exit 1; }
    rm -f "$rootfs.log" "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED  # official images allow pip
    ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
    tar -C "$rootfs" -c . | podman import --quiet \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "$python_ref" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

if podman image exists "$rust_ref"; then
    echo "base image $rust_ref exists"
else
    sysroot=$(rustc --print sysroot)
    echo "making $rust_ref: $python_ref + $(rustc --version) from $sysroot"
    # The toolchain directory is the build context; only bin/cargo, bin/rustc and lib/ are
    # copied (no docs, no clippy/rustfmt).
    podman build --quiet --isolation chroot --pull=never \
        --build-arg "PYTHON_IMAGE=$python_ref" \
        -f "$here/rust-base.Containerfile" -t "$rust_ref" "$sysroot" >/dev/null
fi
