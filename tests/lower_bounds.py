"""Print pip constraints that pin every dependency of the course package to the lower bound pyproject.toml claims
(``make test-compat`` installs them in a second virtual environment and runs the unit tests there)."""
import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def lower_bounds(pyproject):
    """``name==version.*`` (the oldest release of the lowest claimed version, with its fixes) for each dependency
    of ``pyproject`` (a path) declared with ``>=``."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    found = (re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([\w.]+)", dep) for dep in project["dependencies"])
    return [f"{match.group(1)}=={match.group(2)}.*" for match in found if match]


if __name__ == "__main__":
    print("\n".join(lower_bounds(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "pyproject.toml")))
