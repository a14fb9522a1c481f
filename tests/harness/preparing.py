"""Session set-up that fails with one clear line instead of a traceback.

Expensive set-up (images, downloads, builds) lives in session fixtures, outside the per-test
timeout (``timeout_func_only``); each step bounds its own wait. When one fails, every test
that needs it reports the same sentence: what was being prepared and why it failed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import pytest
import requests

from tests.harness.services import ServiceError

SET_UP_ERRORS = (ServiceError, OSError, subprocess.SubprocessError, requests.RequestException,
                 docker.errors.DockerException)


@contextmanager
def preparing(what: str) -> Iterator[None]:
    try:
        yield
    except SET_UP_ERRORS as err:
        failure = f"{what}: {err}"
    else:
        return
    pytest.fail(failure, pytrace=False)  # outside the handler: no chained traceback
