"""The parity rule (backend.parity.criterion) as test helpers; results cached per session."""

from __future__ import annotations

from backend.parity.computations import computations, evaluate
from backend.parity.criterion import EntryResult
from backend.parity.fixtures import FixtureSet


class ParityRun:
    """Evaluates each computation of a fixture set once (all paths), on demand."""

    def __init__(self, fx: FixtureSet) -> None:
        self.fx = fx
        self._comps = {c.name: c for c in computations(fx)}
        self._results: dict[str, list[EntryResult]] = {}

    @property
    def names(self) -> list[str]:
        return list(self._comps)

    def results(self, name: str) -> list[EntryResult]:
        if name not in self._comps:
            raise KeyError(f"the fixture set has no computation {name!r}: {self.names}")
        if name not in self._results:
            self._results[name] = evaluate(self.fx, self._comps[name])
        return self._results[name]

    def all_results(self) -> list[EntryResult]:
        return [r for name in self._comps for r in self.results(name)]

    def check(self, name: str, path: str | None = None, against: str | None = None
              ) -> list[EntryResult]:
        """Assert the rule for every entry of computation `name` (optionally one path / one
        reference); returns the results checked."""
        rs = [r for r in self.results(name) if (path is None or r.path == path)
              and (against is None or r.against == against)]
        assert rs, f"{name}: nothing computed for path {path}, against {against}"
        failed = [r.describe() for r in rs if not r.passed]
        assert not failed, "beyond the noise floor:\n" + "\n".join(failed)
        return rs
