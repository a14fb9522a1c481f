"""Run-image mirror selection (contract §2, roadmap #48).

Candidates are ``[image] + mirrors`` in order. The first *readable* candidate on the target
registry wins; else the first readable candidate anywhere; else nothing does, and the caller
fails listing every candidate and why it was rejected. The whole decision is kept in a
:class:`RunImageChoice` so it can be explained in the log and in report.toml.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lifecycle.backends.base import Access
from lifecycle.reference import Reference, ReferenceError, parse_reference


@dataclass(frozen=True)
class Candidate:
    name: str
    registry: str          # "" when the name does not parse
    on_target: bool
    access: Access | None  # None: not checked (an earlier candidate already won)


@dataclass(frozen=True)
class RunImageChoice:
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
