# syntax=docker/dockerfile:1
#
# flask-rustpath with its Rust kernels compiled in, served through the Rust front.
#
#   docker build -t flask-rustpath .
#   docker run --rm -p 127.0.0.1:8000:8000 flask-rustpath                    # the front
#   docker run --rm -p 127.0.0.1:8000:8000 -e SERVER=gunicorn flask-rustpath  # plain gunicorn
#
# SERVER chooses what serves the app (GUNICORN_APP) on GUNICORN_BIND:
#   front     (default) `flask rustpath serve`: the Rust front (hyper and tokio, in the wheel)
#             answers the JSON hot routes it can natively, with no Python, and proxies the
#             rest to gunicorn, which it runs on a private Unix socket with the same settings.
#   gunicorn  gunicorn alone, with the shipped config, as this image served before the front.
# SERVER is not a RUSTPATH_* name on purpose: the extension reads every RUSTPATH_* variable
# as app config and refuses the ones it does not know.
#
# Two stages: "builder" compiles the release wheel with maturin; the runtime stage installs
# only that wheel (with Flask, gunicorn and prometheus-client) into a slim Python image, so
# no compiler, Rust toolchain or source tree ships. To serve your own app, build FROM this
# image (see docs/docker.md) and set GUNICORN_APP.

# Base images. The builder starts from the same Python image as the runtime and takes only
# the toolchain from the Rust image, so the wheel is built for exactly the Python that will
# import it, whichever PYTHON_IMAGE you choose.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUST_IMAGE=rust:1.95-slim-bookworm

FROM ${RUST_IMAGE} AS rust

FROM ${PYTHON_IMAGE} AS builder
# The linker and C runtime that rustc needs; the slim Python images have neither.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY --from=rust /usr/local/rustup /usr/local/rustup
COPY --from=rust /usr/local/cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
ARG MATURIN_VERSION=1.16.0
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m pip install "maturin==${MATURIN_VERSION}"

WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps the rest out of the context).
COPY Cargo.toml Cargo.lock pyproject.toml README.md ./
COPY rust_src/ rust_src/
COPY flask_rustpath/ flask_rustpath/
# Crate downloads and compiled dependencies persist in cache mounts between builds, so a
# change to our code recompiles only our crate. --locked: exactly the committed Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    maturin build --release --locked --strip --interpreter python3 --out /wheels \
    && cd /wheels && sha256sum -- *.whl > SHA256SUMS


FROM ${PYTHON_IMAGE}
# An unprivileged user with a home directory; numeric IDs so that Kubernetes'
# runAsNonRoot can verify them.
RUN groupadd --gid 10001 rustpath \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin rustpath

# The wheel comes in through a bind mount, so it is not kept in a layer; "[serve]" brings
# gunicorn, "[metrics]" prometheus-client (the front adds its metrics to the app's at
# /rustpath/metrics, for all of gunicorn's workers together). pip's cache lives in a cache
# mount, not in the image. Only the wheel's checksum is copied, as a record of what was
# installed, and because some builders (podman 4's buildah) key the cache of a RUN on its
# command alone, not on what a bind mount brings: without a changed layer before it, they
# would reuse the install of an older wheel.
COPY --from=builder /wheels/SHA256SUMS /usr/local/share/flask-rustpath/wheel.sha256
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    set -- /wheels/*.whl \
    && python3 -m pip install --disable-pip-version-check --root-user-action=ignore \
        "$1[serve,metrics]"

# Everything is configured through the environment (defaults shown):
#   SERVER             front or gunicorn (see the top of this file)
#   GUNICORN_APP       the WSGI app to serve: "module:variable" or "module:factory()"
#   GUNICORN_BIND      the public address inside the container, the front's or gunicorn's
#                      (keep it 0.0.0.0 to publish a port)
#   WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT   gunicorn workers, threads per
#                      worker, worker timeout in seconds (in both modes)
#   GUNICORN_CMD_ARGS  more gunicorn flags, in both modes; the default puts worker heartbeat
#                      files on /dev/shm, a tmpfs in every container, as gunicorn recommends
#   RUSTPATH_*         flask-rustpath settings, read by any app at init_app (JSON where it parses),
#                      e.g. RUSTPATH_BACKEND=python; RUSTPATH_THREADS sizes each worker's
#                      Rust thread pool (default: the CPUs the container may use)
#   HEALTHCHECK_PATH   what the health check requests
#   DRAIN_DELAY        seconds the server keeps serving after SIGTERM, with /healthz
#                      answering 503 "draining" so that load balancers and Kubernetes stop
#                      sending it requests first; then it stops gracefully (both modes)
ENV PYTHONUNBUFFERED=1 \
    SERVER=front \
    GUNICORN_APP="flask_rustpath.demo:create_app()" \
    GUNICORN_BIND=0.0.0.0:8000 \
    WEB_CONCURRENCY=2 \
    GUNICORN_THREADS=4 \
    GUNICORN_TIMEOUT=60 \
    GUNICORN_CMD_ARGS="--worker-tmp-dir /dev/shm" \
    HEALTHCHECK_PATH=/healthz \
    DRAIN_DELAY=5

USER 10001:10001
WORKDIR /home/rustpath
EXPOSE 8000

# No curl in a slim image: ask with Python's urllib, on the port GUNICORN_BIND names.
# urlopen raises on a refused connection, a timeout or an HTTP error, and the check fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as u; port = os.environ['GUNICORN_BIND'].rpartition(':')[2]; u.urlopen(f'http://127.0.0.1:{port}' + os.environ['HEALTHCHECK_PATH'], timeout=4)"]

# The shell only picks the server and `exec`s it, so the server is PID 1 and gets
# `docker stop`'s SIGTERM itself. Either server first drains for DRAIN_DELAY seconds
# (/healthz answers 503 "draining", everything else is served), then stops gracefully.
# gunicorn's graceful stop lets workers finish their requests within
# GUNICORN_GRACEFUL_TIMEOUT (default 8 s). The front stops accepting, finishes every
# request it has read (proxied ones included), then stops gunicorn the same way and
# exits. Give `docker stop -t` (Kubernetes: terminationGracePeriodSeconds) at least
# DRAIN_DELAY plus the graceful time; docs/scaling.md has the timeline.
STOPSIGNAL SIGTERM
CMD ["/bin/sh", "-c", "case \"$SERVER\" in \
    front) exec flask --app \"$GUNICORN_APP\" rustpath serve --bind \"$GUNICORN_BIND\" --workers \"$WEB_CONCURRENCY\" --threads \"$GUNICORN_THREADS\" --drain-delay \"$DRAIN_DELAY\" ;; \
    gunicorn) GUNICORN_DRAIN_DELAY=\"$DRAIN_DELAY\" exec gunicorn -c python:flask_rustpath.serving.gunicorn_conf ;; \
    *) echo \"SERVER must be front or gunicorn, not '$SERVER'\" >&2; exit 64 ;; \
    esac"]
