"""Test run images, written without the project's own code and published with skopeo.

Nothing is pulled from the internet: a run image is one or two gzip layers written here with
``tarfile`` (a version file, and Debian's busybox-static so the image can run), in an OCI
image layout, then copied to a registry with ``skopeo copy``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tests.harness.services import ensure_commands

BUSYBOX = Path("/bin/busybox")


def _tar(files: dict[str, tuple[bytes, int]], symlinks: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({str(Path(name).parent) for name in [*files, *symlinks]} - {"/"})
        for directory in directories:
            info = tarfile.TarInfo(directory.lstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1
            tar.addfile(info)
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, 1
            tar.addfile(info, io.BytesIO(data))
        for name, target in sorted(symlinks.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 1
            tar.addfile(info)
    return buffer.getvalue()


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def make_run_image_layout(layout: Path, version: str = "v1",
                          stack_id: str = "io.example.stack",
                          labels: dict[str, str] | None = None,
                          architecture: str = "amd64", with_busybox: bool = True) -> Path:
    """An OCI layout (tag ``latest``) holding a small linux run image; returns ``layout``."""
    layer_files: list[tuple[dict[str, tuple[bytes, int]], dict[str, str]]] = []
    if with_busybox:
        ensure_commands(["busybox"], ["busybox-static"])
        layer_files.append(({"/bin/busybox": (BUSYBOX.read_bytes(), 0o755)},
                            {"/bin/sh": "busybox", "/bin/cat": "busybox", "/bin/echo": "busybox"}))
    layer_files.append(({"/etc/run-image-version": (f"{version}\n".encode(), 0o644)}, {}))
    layers, diff_ids = [], []
    for files, symlinks in layer_files:
        tar = _tar(files, symlinks)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        digest, size = _blob(layout, gzip.compress(tar, mtime=0))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": digest, "size": size})
    config: dict[str, Any] = {
        "architecture": architecture, "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                   "Labels": {"io.buildpacks.stack.id": stack_id, **(labels or {})}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"test run image {version} layer {i}"}
                    for i in range(len(layers))],
    }
    config_digest, config_size = _blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": config_size},
                "layers": layers}
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    return layout


def push_layout(layout: Path, ref: str, docker_format: bool = False) -> str:
    """Copy the layout's ``latest`` image to ``ref``; returns the pushed manifest digest."""
    command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if docker_format:
        command += ["--format", "v2s2"]
    digest_file = layout.parent / f".{layout.name}.digest"
    command += ["--digestfile", str(digest_file), f"oci:{layout}:latest", f"docker://{ref}"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return digest_file.read_text().strip()


def publish_run_image(workdir: Path, refs: list[str], version: str = "v1",
                      **options: Any) -> str:
    """Make one run image and push it under every name in ``refs``; returns its digest."""
    layout = make_run_image_layout(workdir / f"run-{version}-{abs(hash(tuple(refs)))}",
                                   version, **options)
    digests = {push_layout(layout, ref) for ref in refs}
    assert len(digests) == 1, digests
    return digests.pop()


def skopeo_inspect(ref: str, raw: bool = False, config: bool = False) -> Any:
    command = ["skopeo", "inspect", "--tls-verify=false"]
    command += ["--raw"] if raw else ["--config"] if config else []
    result = subprocess.run([*command, f"docker://{ref}"], check=True, capture_output=True,
                            timeout=60, text=True)
    return json.loads(result.stdout)
