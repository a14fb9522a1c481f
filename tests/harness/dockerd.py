"""pytest plugin for the Docker Engine tests (see issue: daemon target)."""
