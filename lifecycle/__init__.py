"""cnb-lifecycle: the Cloud Native Buildpacks exporter and rebaser phases."""

__version__ = "0.1.0"
