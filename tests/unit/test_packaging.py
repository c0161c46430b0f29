"""What `pip install .` and the image install: no test doubles in production, every version from the lock, and a
Dockerfile whose command, health check and init agree with the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TEST_DOUBLES = {"moto", "flask", "werkzeug"}


def name_of(requirement: str) -> str:
    """The normalised distribution name of a requirement line ("moto[server]>=5.0" -> "moto")."""
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [line.split("==") for line in lines if line.strip() and not line.startswith("#")]
    return {name_of(name): version for name, version in pins}


def test_a_plain_install_requires_no_moto_flask_or_werkzeug_and_the_sandbox_extra_brings_moto():
    required = {name_of(r) for r in PYPROJECT["project"]["dependencies"]}
    assert required & TEST_DOUBLES == set()
    assert "moto" in {name_of(r) for r in PYPROJECT["project"]["optional-dependencies"]["sandbox"]}


def test_the_lock_pins_every_dependency_and_every_extra_exactly():
    pins = locked()
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = {name_of(r) for r in [*PYPROJECT["project"]["dependencies"], *extras["sandbox"], *extras["test"]]}
    assert wanted - {"rdsbot"} <= pins.keys(), sorted(wanted - pins.keys())
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version) for version in pins.values())


def test_ci_and_the_image_install_through_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "-c requirements.lock -e '.[sandbox,test]'" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --prefix=/install -c requirements.lock .\n" in dockerfile


def test_the_image_serves_http_under_tini_and_checks_the_port_it_serves():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["serve"]' in dockerfile
    assert (
        'ENTRYPOINT ["/usr/bin/tini", "--", "rdsbot"]' in dockerfile
        and "install -y --no-install-recommends tini" in dockerfile
    )
    health = next(line for line in dockerfile.splitlines() if line.startswith("HEALTHCHECK"))
    assert "/healthz" in health and "RDSBOT_PORT" in health and "RDSBOT_PORT=3000" in dockerfile
    assert "EXPOSE 3000" in dockerfile
    # No store inside the container by default: PostgreSQL, or SQLite on a mounted volume.
    assert "RDSBOT_DATABASE_URL=" not in dockerfile and "RDSBOT_SQLITE_NEEDS_VOLUME=1" in dockerfile
    assert "RDSBOT_CONFIG=" not in dockerfile
