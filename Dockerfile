# The lifecycle image: /cnb/lifecycle/{exporter,rebaser,rebase-many,launcher} and
# /cnb/lifecycle.toml, laid out like a buildpacks lifecycle image so a platform can copy
# /cnb/lifecycle into a builder (/lifecycle/* for 2019-style builders).
#
#   docker build -t cnb-lifecycle .          # python:3.11-slim, dependencies from the index
#   docker build --build-arg BASE_IMAGE=<any image with python3 >= 3.11 and pip> ...
#
# Behind a proxy that re-signs TLS, put its CA bundle in certs/ and pass
# --build-arg PIP_CERT=/src/certs/<file> (pip reads PIP_CERT). With no network at all,
# install from wheels made on the host instead:
#
#   pip wheel --wheel-dir wheels .           # add pyinstaller==6.22.3 for LIFECYCLE_IMAGE
#   docker build --build-arg WHEELS=wheels -t cnb-lifecycle .
#
# Over an existing lifecycle image (what `pack build --lifecycle-image` takes): that image's
# analyzer, restorer, creator, launcher and the rest are kept, and our exporter and rebaser go
# in self-contained (PyInstaller, as in `make dist`; the image has no Python), with the C
# library they load and /cnb/lifecycle.toml declaring the APIs both implement:
#
#   docker build --build-arg LIFECYCLE_IMAGE=buildpacksio/lifecycle:<version> -t my/lifecycle .
#
# That runs PyInstaller in the build stage (it needs binutils, installed with apt-get when
# missing). To reuse phases already built on the host (one PyInstaller run for the archive and
# the image), put them in prebuilt/ and name it; the build stage then only writes
# /cnb/lifecycle.toml and launcher.toml from the lifecycle image's own:
#
#   python3 release/build_dist.py --phases-root prebuilt      # also writes dist/*.tgz
#   docker build --build-arg LIFECYCLE_IMAGE=... --build-arg PREBUILT=prebuilt -t my/lifecycle .
ARG BASE_IMAGE=python:3.11-slim
ARG LIFECYCLE_IMAGE=

FROM ${BASE_IMAGE} AS python-phases
ARG WHEELS=
ARG PIP_CERT
# Debian's python3 marks its site-packages as externally managed; this image is ours.
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /src
RUN if [ -n "$WHEELS" ]; then \
      python3 -m pip install --no-index --find-links "/src/$WHEELS" cnb-lifecycle; \
    else \
      python3 -m pip install /src; \
    fi \
 && mkdir -p /cnb/lifecycle /lifecycle \
 && cp /src/cmd/exporter /src/cmd/rebaser /src/cmd/rebase-many /cnb/lifecycle/ \
 && cp /src/lifecycle/launcher.sh /cnb/lifecycle/launcher \
 && chmod 0755 /cnb/lifecycle/* \
 && python3 -c 'import sys; sys.path.insert(0, "/src"); \
from release.build_dist import OURS, lifecycle_toml; print(lifecycle_toml(OURS), end="")' \
    > /cnb/lifecycle.toml \
 && for phase in exporter rebaser rebase-many launcher; do \
      ln -s /cnb/lifecycle/$phase /lifecycle/$phase; \
    done

# The image the result is built on: the lifecycle image if one is named, else the above.
FROM ${LIFECYCLE_IMAGE:-python-phases} AS base-lifecycle

# Only with LIFECYCLE_IMAGE: what goes over it (release/build_dist.py --image-root).
FROM python-phases AS over-lifecycle
ARG LIFECYCLE_IMAGE
ARG PREBUILT=
ARG WHEELS=
ARG PIP_CERT
COPY --from=base-lifecycle /cnb /base
RUN mkdir -p /out/lib /out/lib64 /out/cnb \
 && if [ -n "$LIFECYCLE_IMAGE" ] && [ -n "$PREBUILT" ]; then \
      python3 /src/release/build_dist.py --image-root /out --base-cnb /base \
        --phases-root "/src/$PREBUILT"; \
    elif [ -n "$LIFECYCLE_IMAGE" ]; then \
      command -v objdump >/dev/null || { apt-get update \
        && apt-get install -y --no-install-recommends binutils; } \
      && if [ -n "$WHEELS" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS="/src/$WHEELS"; fi \
      && python3 /src/release/build_dist.py --image-root /out --base-cnb /base \
      && rm -rf /src/build /src/.venv-dist; \
    fi

# kpack puts only a lifecycle image's last layer into its builders, over the builder's own C
# library: so the C library is a layer below, and the last layer holds all of /cnb (the
# image's own phases too).
FROM base-lifecycle
COPY --from=over-lifecycle /out/lib /lib
COPY --from=over-lifecycle /out/lib64 /lib64
COPY --from=over-lifecycle /out/cnb /cnb
