"""PyInstaller runtime hook of the release binaries: their one-folder contents are flat.

pack copies only a lifecycle archive's ``lifecycle/<name>`` entries into a builder, so the
folder has no subdirectories (``build_dist.flatten``): a package's extension modules lie
beside the executable as ``<package>.<module><suffix>`` and its data files under their own
names. This hook finds both there; stdlib extension modules need nothing, since the folder
itself is on ``sys.path``.
"""

import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path

import pyimod02_importers  # PyInstaller's own importer module, present in every frozen run

FOLDER = Path(sys._MEIPASS)  # type: ignore[attr-defined]


class FlatExtensionFinder:
    """Finds ``isal.isal_zlib`` as ``isal.isal_zlib.cpython-311-x86_64-linux-gnu.so``."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if "." not in fullname:
            return None
        for suffix in EXTENSION_SUFFIXES:
            candidate = FOLDER / (fullname + suffix)
            if candidate.is_file():
                return spec_from_file_location(
                    fullname, candidate, loader=ExtensionFileLoader(fullname, str(candidate)))
        return None


sys.meta_path.append(FlatExtensionFinder)
# importlib.resources.files(<package>), e.g. certifi's cacert.pem: the folder, for every package
pyimod02_importers.PyiFrozenResourceReader.files = lambda self: FOLDER
