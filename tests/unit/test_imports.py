"""What a phase imports: a registry rebase loads only what it runs, and an export imports
nothing while it runs as the build's user.

Start-up is most of a registry rebase's time, and most of start-up is importing modules, so
this guards the import graph (which modules load), not the time. A new process rebases an
app image in the in-memory store exactly as ``rebaser`` would (flags, inputs, mirror
selection, checks, the new image, report.toml), then imports the registry backend that
``open_store`` would have opened; the modules loaded at each point are checked.

Modules imported on first use must not be first used while the exporter has switched to the
build's user, who may not be allowed to read the installation: another process exports
with every switch recorded, and what was imported inside one is checked to be nothing; what
the registry backend imports on first use must have been imported before the first switch,
and a third process checks that this is everything the backend imports inside a function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lifecycle.backends import CLIENT_IMPORTED_ON_FIRST_USE, IMPORTED_ON_FIRST_USE

ROOT = Path(__file__).resolve().parents[2]

REBASE = """
import json, sys
from lifecycle import cli, rebaser
from lifecycle.image import mutate
from lifecycle.image.model import OCI_LAYER_GZIP, Image, Layer
from lifecycle.jsonio import labels_json
from lifecycle.reference import parse_reference
from tests.unit.memory_store import MemoryStore

store = MemoryStore()
cli.open_store = lambda target, connections: store


def layer(number):
    digest = f"sha256:{number:064x}"
    store.blobs.blobs[digest] = b""
    return Layer(digest, f"sha256:{number + 100:064x}", 1, OCI_LAYER_GZIP, store.blobs)


def run_image(number):
    base = Image({"os": "linux", "architecture": "amd64",
                  "config": {"Labels": {"io.buildpacks.stack.id": "stack"}}}, ())
    return mutate.append_layers(base, [(layer(number), f"run image {number}")])


old_base = run_image(1)
app = mutate.append_layers(old_base, [(layer(2), "app")])
recorded = {"image": "reg.io/run:v1", "mirrors": ["other.io/run:v1"]}
app = mutate.set_labels(app, {"io.buildpacks.lifecycle.metadata": labels_json(
    {"runImage": {"topLayer": old_base.top_layer, "reference": "reg.io/run@sha256:0"},
     "stack": {"runImage": recorded}})})
store.write(run_image(3), [parse_reference("reg.io/run:v1")])
store.write(app, [parse_reference("reg.io/apps/web")])
code = rebaser.main(["-report", sys.argv[2] + "/report.toml", "reg.io/apps/web"])
phase = sorted(sys.modules)
from lifecycle.backends import auth, registry, retry, tls  # what open_store imports
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "phase": phase, "store": sorted(sys.modules)}, out)
"""

EXPORT = """
import json, sys
from contextlib import contextmanager
from pathlib import Path
from lifecycle import cli, exporter, privileges
from lifecycle.image.model import OCI_LAYER_GZIP, Image, Layer
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import write_sample_build
from tests.unit.memory_store import MemoryStore

store = MemoryStore()
cli.open_store = lambda target, connections: store
imported_while_switched = []
imported_at_first_switch = []


@contextmanager
def recording_as_user(uid, gid):
    before = set(sys.modules)
    if not imported_at_first_switch:
        imported_at_first_switch.extend(sorted(before))
    yield
    imported_while_switched.extend(sorted(set(sys.modules) - before))


privileges.as_user = recording_as_user
root = Path(sys.argv[2])
build = write_sample_build(root / "build")
(root / "run.toml").write_text('[[images]]\\nimage = "reg.io/run:v1"\\n')
digest = f"sha256:{1:064x}"
store.blobs.blobs[digest] = b""
base = Image({"os": "linux", "architecture": "amd64", "rootfs": {"diff_ids": [digest]},
              "config": {"Labels": {"io.buildpacks.stack.id": "stack"}}},
             (Layer(digest, digest, 1, OCI_LAYER_GZIP, store.blobs),))
store.write(base, [parse_reference("reg.io/run:v1")])
code = exporter.main(["-run", str(root / "run.toml"), "-layers", str(build.layers_dir),
                      "-app", str(build.app_dir), "-group", str(build.group_path),
                      "-report", str(root / "report.toml"), "-log-format", "json",
                      "reg.io/apps/web"])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "imported_while_switched": imported_while_switched,
               "imported_at_first_switch": imported_at_first_switch}, out)
"""

# Every import inside a function of these modules, run after backends.import_ahead(). Not
# the HTTP client's (TLS, certifi, a NO_PROXY network): the exporter imports those ahead only
# with a cache image (docs/design.md, "Imports").
IMPORTS_INSIDE_FUNCTIONS = """
import ast, json, sys
from pathlib import Path
from lifecycle import backends

backends.import_ahead()
imported = {}
for module in ("auth", "registry", "retry", "tls"):
    path = Path("lifecycle/backends", module + ".py")
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    before = set(sys.modules)
                    exec(compile(ast.Module([node], []), str(path), "exec"), {})
                    statement = f"{module}.py:{node.lineno}: {ast.unparse(node)}"
                    imported[statement] = sorted(set(sys.modules) - before)
with open(sys.argv[1], "w") as out:
    json.dump(imported, out)
"""

NOT_ON_A_REBASE = (
    # other targets and other commands
    "docker", "lifecycle.backends.daemon", "lifecycle.backends.layout",
    "lifecycle.platform.exporter_inputs", "lifecycle.platform.rebase_many_inputs",
    "lifecycle.platform.tool_inputs", "lifecycle.archive", "isal",
    # index code, which only an app index needs, and its thread pool
    "lifecycle.multiplatform", "lifecycle.backends.shared", "concurrent.futures",
    # file formats a rebase never reads, and the TOML parser
    "lifecycle.platform.files.analyzed", "lifecycle.platform.files.build_metadata",
    "lifecycle.platform.files.group", "lifecycle.platform.files.layer_metadata",
    "lifecycle.platform.files.launcher", "lifecycle.platform.files.stack", "tomllib",
    # standard modules only some runs need, or none of ours
    "asyncio", "logging", "importlib.metadata", "tempfile", "difflib", "traceback", "ssl",
    # what records, lifecycle.checking and copy_json replace, and OpenSSL's hashes (a
    # document is hashed with the interpreter's own SHA-256)
    "dataclasses", "inspect", "typing", "copy", "hashlib", "base64",
)
NOT_WITH_THE_REGISTRY = ("asyncio", "docker", "lifecycle.backends.daemon",
                         "lifecycle.backends.layout", "lifecycle.multiplatform")
# What the registry backend imports only on first use (a thread pool, a retry's jitter, a
# credential helper) and what email.utils brings (for a Retry-After date): one image's
# rebase without faults or credential helpers needs none of them.
NOT_UNTIL_USED = ("concurrent.futures", "logging", "random", "subprocess", "email",
                  "calendar", "locale")
# What an HTTP library such as requests would load; our client on sockets loads none of them,
# not even the socket module's Python layer (its enums, selectors).
NOT_WITH_OUR_HTTP_CLIENT = ("requests", "urllib3", "ssl", "importlib.metadata", "socket",
                            "selectors")


def run_script(script: str, scratch: Path) -> dict[str, Any]:
    """``script`` in a new process (argv: its JSON output, ``scratch``); its JSON output."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("CNB_")}
    subprocess.run([sys.executable, "-c", script, str(scratch / "out.json"), str(scratch)],
                   cwd=ROOT, env={**environ, "CNB_PLATFORM_API": "0.12"}, check=True,
                   stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads((scratch / "out.json").read_text())
    return result


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    scratch = tmp_path_factory.mktemp("imports")
    result = run_script(REBASE, scratch)
    assert (scratch / "report.toml").is_file()
    return result


def loaded(modules: object, names: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return [name for name in names if name in modules]


def test_the_rebase_itself_succeeds(imported: dict[str, object]) -> None:
    assert imported["code"] == 0


def test_a_rebase_imports_only_what_it_runs(imported: dict[str, object]) -> None:
    assert loaded(imported["phase"], NOT_ON_A_REBASE) == []


def test_the_registry_backend_imports_no_other_backend(imported: dict[str, object]) -> None:
    assert loaded(imported["store"], NOT_WITH_THE_REGISTRY) == []


def test_the_registry_backend_imports_only_what_every_run_uses(
        imported: dict[str, object]) -> None:
    assert loaded(imported["store"], NOT_UNTIL_USED) == []


def test_the_registry_backend_imports_no_http_library(imported: dict[str, object]) -> None:
    assert loaded(imported["store"], NOT_WITH_OUR_HTTP_CLIENT) == []


def test_an_export_imports_nothing_as_the_build_user(tmp_path: Path) -> None:
    exported = run_script(EXPORT, tmp_path)
    assert exported["code"] == 0
    assert (tmp_path / "report.toml").is_file()
    assert exported["imported_while_switched"] == []
    assert loaded(exported["imported_at_first_switch"], IMPORTED_ON_FIRST_USE) == list(
        IMPORTED_ON_FIRST_USE)


def test_the_registry_backend_imports_inside_functions_only_what_is_imported_ahead(
        tmp_path: Path) -> None:
    imported = run_script(IMPORTS_INSIDE_FUNCTIONS, tmp_path)
    assert imported  # the lazy imports were found
    assert {statement: new for statement, new in imported.items() if new} == {}


def test_with_a_cache_image_the_http_clients_imports_are_ahead_too(tmp_path: Path) -> None:
    script = ("import json, sys\nfrom lifecycle import backends\n"
              "before = set(sys.modules)\nbackends.import_ahead(first_request_as_user=False)\n"
              "plain = sorted(set(sys.modules) - before)\n"
              "backends.import_ahead(first_request_as_user=True)\n"
              "with open(sys.argv[1], 'w') as out:\n"
              "    json.dump({'plain': plain, 'all': sorted(sys.modules)}, out)\n")
    imported = run_script(script, tmp_path)
    assert loaded(imported["plain"], CLIENT_IMPORTED_ON_FIRST_USE) == []
    assert loaded(imported["all"], CLIENT_IMPORTED_ON_FIRST_USE) == list(
        CLIENT_IMPORTED_ON_FIRST_USE)


def test_the_index_code_imports_no_thread_pool_library(tmp_path: Path) -> None:
    # An app index rebase runs its children in threads of lifecycle.workers, on threading.
    script = ("import json, sys\nfrom lifecycle import multiplatform, rebaser\n"
              "from lifecycle.backends import registry, shared\n"
              "json.dump({'modules': sorted(sys.modules)}, open(sys.argv[1], 'w'))\n")
    modules = run_script(script, tmp_path)["modules"]
    assert loaded(modules, ("concurrent.futures", "logging", "typing", "dataclasses")) == []
