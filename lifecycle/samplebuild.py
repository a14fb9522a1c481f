"""A small but complete buildpack build output, as a builder leaves it for the exporter.

Used by the README demo and by the tests: a group of two buildpacks (one with a slash in
its id, so the escaped directory name is exercised), a launch layer with a binary and launch
env, a cache-only layer, an app directory with a static slice, and
``config/metadata.toml`` with a default ``web`` process.
"""

from __future__ import annotations

from pathlib import Path

from lifecycle.record import record

HELLO_SCRIPT = """#!/bin/sh
echo "hello from the ${GREETING_FROM:-unknown} layer; app says: $(cat "$CNB_APP_DIR/message.txt")"
[ -f /etc/run-image-version ] && echo "run image version: $(cat /etc/run-image-version)"
exit 0
"""


@record
class SampleBuild:
    """Where the sample build's layers, app and group.toml are."""

    layers_dir: Path
    app_dir: Path
    group_path: Path


def write_sample_build(root: Path, message: str = "hi there") -> SampleBuild:
    layers, app = root / "layers", root / "workspace"
    files = {
        layers / "group.toml": (
            '[[group]]\nid = "examples/hello"\nversion = "0.0.1"\napi = "0.9"\n\n'
            '[[group]]\nid = "examples_cache"\nversion = "1.2.3"\napi = "0.9"\n'),
        layers / "examples_hello" / "hello.toml": (
            '[types]\nlaunch = true\n\n[metadata]\nversion = "1.0"\n'),
        layers / "examples_hello" / "hello" / "bin" / "hello": HELLO_SCRIPT,
        layers / "examples_hello" / "hello" / "env.launch" / "GREETING_FROM.default": "hello",
        layers / "examples_hello" / "store.toml": '[metadata]\nbuilds = 1\n',
        layers / "examples_cache" / "deps.toml": '[types]\ncache = true\n',
        layers / "examples_cache" / "deps" / "cached.txt": "only in the build cache\n",
        layers / "config" / "metadata.toml": (
            'buildpack-default-process-type = "web"\n\n'
            '[[processes]]\ntype = "web"\ncommand = ["hello"]\nargs = []\ndirect = false\n'
            'buildpack-id = "examples/hello"\n\n'
            '[[processes]]\ntype = "shell"\ncommand = ["/bin/sh"]\nargs = []\ndirect = true\n'
            'buildpack-id = "examples/hello"\n\n'
            '[[slices]]\npaths = ["static/*"]\n'),
        app / "message.txt": message + "\n",
        app / "static" / "index.html": "<h1>hello</h1>\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (layers / "examples_hello" / "hello" / "bin" / "hello").chmod(0o755)
    return SampleBuild(layers, app, layers / "group.toml")
