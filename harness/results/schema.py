"""Names in a phasebench results file. Changing any of them is a schema change: bump
SCHEMA_VERSION and say so in docs/results.md.

::

    /                         attrs: format, schema_version, created, phasebench_version
    /scans/<scan_id>          attrs: config (JSON), point_id, seed, sgd_seed, lambda0, loss0,
                                     lambda0_hvps, lambda0_converged, lambda0_seconds,
                                     complete, constants (JSON, when complete), sharp_eps
                                     (when complete: the c_sharp threshold of the run; files
                                     without it were made with 0)
    /scans/<scan_id>/runs/<run_id>
                              attrs: config (JSON), c, eta, diverged, diverged_step, seconds,
                                     sharpness_seconds, provenance (JSON)
                              datasets: loss, batch_loss, sharpness, hvps, converged,
                                        barrier_tau, barrier_loss
    /points/<point_id>        attrs: config (JSON, c and seeds left out), label, scans (JSON
                                     list), aggregates (JSON: constant -> mean/std/min/max/n/of)
    /failures/<task_id>       attrs: config (JSON), error, attempts
"""

FORMAT = "phasebench-results"
SCHEMA_VERSION = 1

SCANS = "scans"
RUNS = "runs"
POINTS = "points"
FAILURES = "failures"

RUN_ARRAYS = ("loss", "batch_loss", "sharpness", "hvps", "converged", "barrier_tau", "barrier_loss")
RUN_SCALARS = ("c", "eta", "diverged", "diverged_step", "seconds", "sharpness_seconds")
SCAN_SCALARS = (
    "seed",
    "sgd_seed",
    "lambda0",
    "loss0",
    "lambda0_hvps",
    "lambda0_converged",
    "lambda0_seconds",
)
