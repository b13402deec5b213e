"""Built-in sharpness estimators: power iteration, Lanczos, and the exact dense Hessian."""

from phasebench import Option, hookimpl

#: Lanczos' stopping rules (``phasebench_builtins.estimators.lanczos``; docs/sharpness.md).
STOPS = ("auto", "residual", "eigenvalue")

_WHICH = Option(
    "which", "largest", "which eigenvalues", choices=("largest", "magnitude", "smallest")
)


@hookimpl
def register_estimators(register):
    register(
        "power",
        "phasebench_builtins.estimators.power:estimate",
        description="power iteration (the paper's, 20 steps): largest-magnitude eigenvalue, "
        "stops when ||Hv - lambda v|| <= tol |lambda|; tol=0: exactly max_iter products, no "
        "test (the authors': max_iter=20, tol=0, start=fixed)",
        options=[
            Option("max_iter", 20, "products per eigenvalue before it stops anyway", ge=1),
            Option(
                "tol",
                1e-3,
                "stop when ||Hv - lambda v|| <= tol |lambda|; 0: no test, run max_iter "
                "(converged then means the budget was run)",
                ge=0,
            ),
            Option(
                "start",
                "warm",
                "warm: the warm start passed (the previous step's vector), else Gaussian; "
                "fixed: the same Gaussian vector every measurement (start_seed)",
                choices=("warm", "fixed"),
                since="0.2",
            ),
            Option("start_seed", 0, "seed of start=fixed's vector", ge=0, since="0.2"),
        ],
    )
    register(
        "lanczos",
        "phasebench_builtins.estimators.lanczos:estimate",
        description="Lanczos with full reorthogonalization, float64 tridiagonal, Ritz-residual "
        "stop; top-k largest (or magnitude / smallest); a cold start is seeded with the "
        "gradient (start=random for a Gaussian start)",
        # tol bounds the Ritz residual relative to lambda; the eigenvalue error is about
        # tol^2 lambda / gap (measured on the default probe: 5 HVPs a step, 6e-5 relative)
        options=[
            Option("max_iter", 100, "Lanczos steps (products) at most", ge=1),
            Option("tol", 1e-3, "stop when every Ritz residual <= tol |lambda|", ge=0),
            _WHICH,
            Option("start", "gradient", "cold start vector", choices=("gradient", "random")),
            # since 0.2: at its default it is left out of stored configurations and run ids
            Option(
                "stop",
                "auto",
                "stopping rule: residual (every Ritz residual <= tol |lambda|), eigenvalue "
                "(the estimated eigenvalue error min(r, r^2 / gap) <= tol |lambda|), auto (the "
                "caller's choice: residual, except a trace's warm-started measurements)",
                choices=STOPS,
                since="0.2",
            ),
        ],
    )
    register(
        "exact",
        "phasebench_builtins.estimators.exact:estimate",
        description="the full Hessian (n products) and eigh in float64; refuses when it would "
        "not fit in memory",
        options=[
            _WHICH,
            Option("max_bytes", 4 * 1024**3, "refuse a dense Hessian larger than this", ge=1),
        ],
    )
