"""Run-image mirror selection (buildpacks roadmap #48), and how run-image names compare.

Candidates are ``[image] + mirrors`` in order. The first *readable* candidate on the target
registry wins; else the first readable candidate anywhere; else nothing does, and the caller
fails listing every candidate and why it was rejected. The whole decision is kept in a
:class:`RunImageChoice` so it can be explained in the log and in report.toml.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lifecycle.backends.base import Access
from lifecycle.log import Logger
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.record import record
from lifecycle.reference import Reference, ReferenceError, parse_reference


@record
class Candidate:
    """One run-image candidate: where it is, and whether it was found readable."""

    name: str
    registry: str          # "" when the name does not parse
    on_target: bool
    access: Access | None  # None: not checked (an earlier candidate already won)


@record
class RunImageChoice:
    """The chosen run image (or none), why, and every candidate as it was judged."""

    image: str | None            # the chosen name, None if no candidate is readable
    reason: str
    target_registry: str
    candidates: tuple[Candidate, ...]

    def explanation(self) -> list[str]:
        """One line per candidate, for the info log."""
        return [line for line, _ in self.candidate_events()]

    def candidate_events(self) -> list[tuple[str, dict[str, str]]]:
        """Each candidate's log line with its fields (``run_image``, ``reason``, ``status``)."""
        events = []
        for c in self.candidates:
            where = "on target registry" if c.on_target else f"on {c.registry or '?'}"
            state = "not checked" if c.access is None else c.access.reason
            status = ("not checked" if c.access is None
                      else "readable" if c.access.readable else "not readable")
            events.append((f"  {c.name} ({where}): {state}",
                           {"kind": "run-image.candidate", "run_image": c.name,
                            "reason": state, "status": status}))
        return events

    def rejections(self) -> str:
        return "; ".join(f"{c.name}: {c.access.reason if c.access else 'not checked'}"
                         for c in self.candidates)


def select_run_image(candidates: Sequence[str], target_registry: str,
                     check: Callable[[Reference], Access]) -> RunImageChoice:
    """Choose among ``candidates`` for an image on ``target_registry``."""
    parsed: list[tuple[str, Reference | None]] = []
    for name in dict.fromkeys(candidates):  # de-duplicate, keep order
        try:
            parsed.append((name, parse_reference(name)))
        except ReferenceError:
            parsed.append((name, None))

    access: dict[str, Access] = {}

    def readable(name: str, ref: Reference) -> bool:
        if name not in access:
            access[name] = check(ref)
        return access[name].readable

    chosen: str | None = None
    reason = "no candidate is readable"
    for name, ref in parsed:
        if ref is not None and ref.registry == target_registry and readable(name, ref):
            chosen = name
            reason = f"first readable candidate on the target registry {target_registry}"
            break
    if chosen is None:
        for name, ref in parsed:
            if ref is not None and readable(name, ref):
                chosen = name
                reason = (f"no readable candidate on {target_registry}; "
                          "first readable candidate on any registry")
                break

    unparsable = Access(False, "not a valid image reference")
    return RunImageChoice(
        image=chosen,
        reason=reason,
        target_registry=target_registry,
        candidates=tuple(
            Candidate(name, ref.registry if ref else "",
                      ref is not None and ref.registry == target_registry,
                      access.get(name) if ref is not None else unparsable)
            for name, ref in parsed),
    )


def choose_run_image(candidates: Sequence[str], target_registry: str,
                     check: Callable[[Reference], Access], source: str, code: ExitCode,
                     logger: Logger) -> RunImageChoice:
    """Select among ``candidates`` (named in ``source``), explain the choice in the log, and
    fail with ``code`` listing every candidate when none is readable. Both phases (and the
    commands that show what a phase would do) go through here, so they choose alike."""
    logger.info(f"Selecting run image for registry '{target_registry}' from {source} "
                f"({len(candidates)} candidates):", kind="run-image.selecting")
    choice = select_run_image(candidates, target_registry, check)
    for line, fields in choice.candidate_events():
        logger.info(line, **fields)
    if choice.image is None:
        raise LifecycleError("select run image", f"no run image is readable: "
                             f"{choice.rejections()}", code)
    logger.info(f"Selected run image '{choice.image}': {choice.reason}",
                kind="run-image.selected", run_image=choice.image, reason=choice.reason)
    return choice


def _name_key(text: str) -> tuple[str, str, str] | None:
    """``registry, repository, tag`` (``latest`` implied, digest ignored), None if unparsable."""
    try:
        ref = parse_reference(text)
    except ReferenceError:
        return None
    return ref.registry, ref.repository_str, ref.tag or "latest"


def names_contain(names: Sequence[str], name: str) -> bool:
    """Whether ``name`` is one of ``names`` as the lifecycle compares run-image names: the
    tag matters (``latest`` implied), a digest is ignored, ``docker.io/x`` is ``x``."""
    wanted = _name_key(name)
    return wanted is not None and any(_name_key(candidate) == wanted for candidate in names)


def same_repository(first: str, second: str) -> bool:
    """Whether both names are in the same registry and repository (any tag or digest)."""
    a, b = _name_key(first), _name_key(second)
    return a is not None and b is not None and a[:2] == b[:2]
