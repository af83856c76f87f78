"""Start-up: `kgit --help` and `kgit validate` against bare Python start-up."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.measure import KGIT, Samples, interleave, run_once


def _runner(argv: list[str]):
    def run() -> tuple[float, float]:
        seconds, peak, code = run_once(argv)
        assert code == 0, f"{argv} failed"
        return seconds, peak

    return run


def bench_startup(repo_root: Path, rounds: int) -> list[str]:
    python = sys.executable
    spec = str(repo_root / "cluster.yaml")
    # The `kgit` command users run (pip's console script), else python -m compiler.
    script = Path(python).with_name("kgit")
    kgit = [str(script)] if script.is_file() else KGIT
    bare = Samples("python -c pass")
    imports = Samples("python -c 'import yaml, jsonschema'")
    help_ = Samples("kgit --help")
    validate = Samples("kgit validate (bundled cluster.yaml)")
    interleave(
        [
            (bare, _runner([python, "-c", "pass"])),
            (imports, _runner([python, "-c", "import yaml, jsonschema"])),
            (help_, _runner([*kgit, "--help"])),
            (validate, _runner([*kgit, "validate", "-f", spec])),
        ],
        rounds,
    )
    import_cost = imports.median - bare.median
    budget = 3 * bare.median + import_cost
    return [
        "## Start-up",
        bare.describe(),
        imports.describe(),
        help_.describe(),
        validate.describe(),
        f"budget = 3 x python start-up + import yaml/jsonschema = {budget:.3f}s; "
        f"kgit validate uses {validate.median / budget:.2f} of it (target < 1.00)",
    ]
