"""Shared pytest configuration: the harness modules provide the real-service fixtures."""

pytest_plugins = ["tests.harness.registry", "tests.harness.dockerd", "tests.harness.tlsregistry"]
