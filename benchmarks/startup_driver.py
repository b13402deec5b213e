"""Runs ``phasebench ARGS`` and stops the process at its first estimator product, printing
one JSON line: CPU seconds since the interpreter started, wall seconds since the parent
launched it (``STARTUP_T0``, its ``time.time()``), and the calibration products spent before
it (``benchmarks/test_bench_cpu_path.py``, start-up)."""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    from phasebench.cli.main import app
    from phasebench.hessian.operator import HessianOperator

    real = HessianOperator.matvec

    def first_product(self, v):
        result = real(self, v)
        figures = {
            "cpu_s": time.process_time(),
            "wall_s": time.time() - float(os.environ.get("STARTUP_T0", time.time())),
            "calibration_hvps": self.calibration_hvps,
            "backend": self.backend,
        }
        print(json.dumps(figures), flush=True)
        os._exit(0)
        return result  # pragma: no cover

    HessianOperator.matvec = first_product
    sys.argv = ["phasebench", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
