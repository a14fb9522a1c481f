# The lifecycle image: /cnb/lifecycle/{exporter,rebaser,launcher}, laid out like a buildpacks
# lifecycle so a platform can copy /cnb/lifecycle into a builder (/lifecycle/* for 2019-style
# builders). First draft: the Python package is installed from wheels built on the host,
# so building the image needs no network access:
#   pip wheel --wheel-dir wheels . && docker build -t cnb-lifecycle .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
COPY wheels /tmp/wheels
RUN python3 -m pip install --no-index --find-links /tmp/wheels cnb-lifecycle \
 && rm -rf /tmp/wheels
COPY cmd/exporter cmd/rebaser /cnb/lifecycle/
COPY lifecycle/launcher.sh /cnb/lifecycle/launcher
RUN chmod 0755 /cnb/lifecycle/* \
 && mkdir -p /lifecycle \
 && ln -s /cnb/lifecycle/exporter /lifecycle/exporter \
 && ln -s /cnb/lifecycle/rebaser /lifecycle/rebaser \
 && ln -s /cnb/lifecycle/launcher /lifecycle/launcher
