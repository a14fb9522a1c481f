"""The console commands ``exporter``, ``rebaser``, ``rebase-many``, ``inspect-image`` and
``layout-add``.

A phase is one short process per build, so its start and end are part of every export's
wall time. Two costs are skipped here (about 30 ms a run together, measured here):

* the garbage collector is off while the phase's modules are imported (their objects live as
  long as the process; scanning them again and again finds nothing), and those objects are
  then frozen out of later collections;
* a run whose only argument is ``-version`` (platforms ask it to check what they were given)
  is answered from the package's version without importing the phase: the flag is defined
  at every platform API and nothing else could change the answer;
* at the end the process exits without tearing the interpreter down module by module. That
  is safe because a phase closes everything it opens itself (stores, files, thread pools,
  work directories): nothing is left for interpreter shutdown to do but free memory.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

from lifecycle.checking import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import NoReturn


def exporter() -> NoReturn:
    _run("lifecycle.exporter")


def rebaser() -> NoReturn:
    _run("lifecycle.rebaser")


def rebase_many() -> NoReturn:
    _run("lifecycle.rebasemany")


def inspect_image() -> NoReturn:
    _run("lifecycle.inspect")


def layout_add() -> NoReturn:
    _run("lifecycle.layoutadd")


_VERSION_FLAGS = ("-version", "--version", "-version=true", "--version=true")


def _run(module: str) -> NoReturn:
    if len(sys.argv) == 2 and sys.argv[1] in _VERSION_FLAGS:
        from lifecycle import __version__
        sys.stdout.write(f"{__version__}\n")
        _exit(0)
    gc.disable()
    main = importlib.import_module(module).main
    gc.freeze()
    gc.enable()
    _exit(main())


def _exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            pass
    os._exit(code)
