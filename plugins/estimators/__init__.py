"""Built-in sharpness estimators: power iteration, Lanczos, and the exact dense Hessian."""

from phasebench import hookimpl


@hookimpl
def register_estimators(register):
    register(
        "power",
        "phasebench_builtins.estimators.power:estimate",
        description="power iteration (the paper's, 20 steps): largest-magnitude eigenvalue, "
        "stops when ||Hv - lambda v|| <= tol |lambda|",
        defaults={"max_iter": 20, "tol": 1e-3},
    )
    register(
        "lanczos",
        "phasebench_builtins.estimators.lanczos:estimate",
        description="Lanczos with full reorthogonalization, float64 tridiagonal, Ritz-residual "
        "stop; top-k largest (or magnitude / smallest); a cold start is seeded with the "
        "gradient (start=random for a Gaussian start)",
        # tol bounds the Ritz residual relative to lambda; the eigenvalue error is about
        # tol^2 lambda / gap (measured on the default probe: 5 HVPs a step, 6e-5 relative)
        defaults={"max_iter": 100, "tol": 1e-3, "which": "largest", "start": "gradient"},
    )
    register(
        "exact",
        "phasebench_builtins.estimators.exact:estimate",
        description="the full Hessian (n products) and eigh in float64; refuses when it would "
        "not fit in memory",
        defaults={"which": "largest", "max_bytes": 4 * 1024**3},
    )
