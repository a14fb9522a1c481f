"""The names from ``typing`` that the code needs at run time, without importing ``typing``.

Importing ``typing`` takes about 3 ms here, a sixth of what a registry rebase may spend
beyond the interpreter's start and its requests, and a phase needs nothing of it at run time
but these few names. The type checker sees the real ones (``TYPE_CHECKING`` is true for it),
a running phase the stand-ins below, each of which does at run time what the real one does:

* ``Protocol``: a protocol class is a plain base class (its methods are never called: every
  implementation defines them);
* ``cast`` returns its value, ``overload`` its function (the undecorated definition that
  follows replaces it), ``dataclass_transform`` a decorator that changes nothing.

Names used only in annotations (``Any``, ``BinaryIO``, ...) are imported from ``typing``
under ``if TYPE_CHECKING:``: with ``from __future__ import annotations`` an annotation is
never evaluated. Modules off the rebase path may import ``typing`` as they please.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Protocol as Protocol
    from typing import cast as cast
    from typing import dataclass_transform as dataclass_transform
    from typing import overload as overload
else:
    Protocol = object

    def cast(_type, value):
        return value

    def overload(function):
        return function

    def dataclass_transform(**_options):
        return lambda function: function
