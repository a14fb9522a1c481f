# The lifecycle image: /cnb/lifecycle/{exporter,rebaser,rebase-many,launcher}, laid out like a
# buildpacks lifecycle so a platform can copy /cnb/lifecycle into a builder (/lifecycle/* for
# 2019-style builders). The Python package is installed from wheels built on the host, so
# building the image needs no network access (and works behind a proxy):
#
#   pip wheel --wheel-dir wheels .
#   docker build -t cnb-lifecycle .                                 # default: python:3.11-slim
#   docker build --build-arg BASE_IMAGE=<any image with python3 >= 3.11 and pip> -t cnb-lifecycle .
#
# The acceptance suite (tests/acceptance) builds it on a Debian 12 minbase image made with
# debootstrap (python3, python3-pip), since no image can be pulled there.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# Debian's python3 marks its site-packages as externally managed; this image is ours.
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY wheels /tmp/wheels
RUN python3 -m pip install --no-index --find-links /tmp/wheels cnb-lifecycle \
 && rm -rf /tmp/wheels
COPY cmd/exporter cmd/rebaser cmd/rebase-many /cnb/lifecycle/
COPY lifecycle/launcher.sh /cnb/lifecycle/launcher
RUN chmod 0755 /cnb/lifecycle/* \
 && mkdir -p /lifecycle \
 && for phase in exporter rebaser rebase-many launcher; do \
      ln -s /cnb/lifecycle/$phase /lifecycle/$phase; \
    done
