"""The mutation score per core module, from `mutmut results --all true` on stdin (`make mutants` pipes it here).

A mutant counts as killed when a test failed or timed out on it; survivors and mutants no selected test ran
("no tests") count against the score. Exit 1 when a module is under the floor, so the habit can gate a build.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

FLOOR = 0.90
# "    bot.parser.x_parse_restore_command__mutmut_12: survived" (a method: bot.authz.xǁAuthorizerǁcheck__mutmut_3)
_LINE = re.compile(r"^\s*(?P<module>[\w.]+?)\.x\S*__mutmut_\d+: (?P<status>.+?)\s*$")
_KILLED = {"killed", "timeout"}


def scores(lines: list[str]) -> dict[str, Counter[str]]:
    """Mutant statuses counted per module."""
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        match = _LINE.match(line)
        if match:
            by_module[match["module"]][match["status"]] += 1
    return dict(by_module)


def report(by_module: dict[str, Counter[str]]) -> tuple[list[str], bool]:
    """One line per module (killed / total, score) and whether every module reached the floor."""
    rows, ok = [f"{'module':<22} {'killed':>7} {'total':>6} {'score':>7}  other"], True
    for module in sorted(by_module):
        counts = by_module[module]
        total = sum(counts.values())
        killed = sum(counts[s] for s in _KILLED)
        score = killed / total if total else 1.0
        ok = ok and score >= FLOOR
        other = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in _KILLED)
        rows.append(f"{module:<22} {killed:>7} {total:>6} {score:>7.1%}  {other}")
    return rows, ok


def main() -> int:
    by_module = scores(sys.stdin.read().splitlines())
    if not by_module:
        print("no mutant results read; did `mutmut run` run?")
        return 1
    rows, ok = report(by_module)
    print("\n".join(rows))
    print(f"floor {FLOOR:.0%} per module: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
