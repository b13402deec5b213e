"""The batched engine: the c values of a grid scan trained, evaluated and measured together.

``--engine batched`` (a run option like ``device``: the runs and their ids are the sequential
engine's) stacks B copies of the flat parameters theta_0 into a (B, n) tensor, one row per c,
and drives them through ``torch.func``: ``functional_call`` of the scan's model over
``vmap`` of the rows, for the SGD step (``grad``), L_t and the barrier (forward passes) and the
sharpness (``jvp`` of ``grad``: forward-over-reverse Hessian-vector products, one batched
product per Lanczos step). The sharpness is a batched Lanczos in lockstep, one tridiagonal per
member, the warm start and stopping rule of the ``lanczos`` estimator (the previous step's top
eigenvector; stop when the Ritz residual is <= tol |theta|); a converged member is frozen (its
value, vector and product count kept; later products of its lane are ignored). A member that
diverges (its L_t not finite or above the threshold) is masked out: its parameters are reset
to theta_0 so no lane holds a nan, its later values stay nan, and the others never see it.

A grid scan stops at its first divergence; the engine runs the grid in chunks of ``CHUNK``
values of c, in order, and the scan keeps the runs up to the first divergence, as the
sequential engine would have computed them (the members above it are discarded).

Supported: the ``lanczos`` estimator with ``which="largest"`` and k = 1 (the probe's), the
plain ``sgd`` optimizer, and models that are pure functions of their parameters and batch (no
batch-norm statistics). Anything else is refused in one line before any work
(``check_supported``). On this CPU the engine is not faster (one member's GEMMs already run
near peak; see docs/engines.md); it exists for GPUs, where per-call overhead dominates.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import numpy as np
import torch
from torch.func import functional_call, grad, jvp, vmap

from phasebench.config import ProbeConfig
from phasebench.errors import ParameterError, UsageError
from phasebench.probe.problem import CHUNK, Problem
from phasebench.probe.provenance import provenance
from phasebench.probe.schedule import learning_rates, rates
from phasebench.probe.trajectory import Start
from phasebench.results.records import RunRecord

ENGINES = ("sequential", "batched")
#: Values of c trained together by the batched engine (a grid scan stops at its first
#: divergence: a larger chunk wastes more members above it).
CHUNK_CS = 8


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ParameterError(f"unknown engine {engine!r}; use sequential or batched", "engine")


def check_supported(config: ProbeConfig) -> None:
    """The batched engine's scope (module docstring); one line naming what is not."""
    estimator = config.estimator
    options = estimator.opts()
    if estimator.name != "lanczos" or options.get("which", "largest") != "largest":
        raise UsageError(
            f"engine batched measures the sharpness by Lanczos (largest), not "
            f"{estimator.label()}; use --engine sequential"
        )
    if config.optimizer.name != "sgd":
        raise UsageError(
            f"engine batched trains with plain sgd, not {config.optimizer.label()}; use "
            "--engine sequential"
        )
    if config.sharpness_batch != "fixed":
        raise UsageError(
            f"engine batched measures lambda_t on the fixed sharpness batch, not "
            f"sharpness_batch {config.sharpness_batch}; use --engine sequential"
        )
    if config.model.opts().get("norm", "none") == "batch":
        raise UsageError(
            "engine batched needs a model without batch statistics (norm batch); use "
            "--engine sequential"
        )


class Members:
    """B stacked copies of one model's parameters, and its loss through ``torch.func``."""

    def __init__(self, problem: Problem, model: torch.nn.Module) -> None:
        self.problem = problem
        self.model = model
        self.names = [name for name, _ in model.named_parameters()]
        self.shapes = [p.shape for _, p in model.named_parameters()]
        self.numels = [p.numel() for _, p in model.named_parameters()]

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = flat.split(self.numels)
        return {
            n: part.view(shape)
            for n, part, shape in zip(self.names, parts, self.shapes, strict=True)
        }

    def loss_of(self, inputs: torch.Tensor, targets: torch.Tensor):
        def loss(flat: torch.Tensor) -> torch.Tensor:
            outputs = functional_call(self.model, self.unflatten(flat), (inputs,))
            return self.problem.loss(outputs, targets)

        return loss

    def losses(self, thetas: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor):
        """(B,) losses of every member on one batch."""
        return vmap(self.loss_of(inputs, targets))(thetas)

    def gradients(self, thetas, inputs, targets) -> torch.Tensor:
        return vmap(grad(self.loss_of(inputs, targets)))(thetas)

    def eval_losses(self, thetas: torch.Tensor) -> torch.Tensor:
        """(B,) losses on the fixed loss batch in eval mode, float64 (the sequential
        engine's ``Problem.eval_loss``, chunk for chunk)."""
        problem = self.problem
        self.model.eval()
        total = torch.zeros(thetas.shape[0], dtype=torch.float64, device=thetas.device)
        n = len(problem.loss_targets)
        with torch.no_grad():
            for begin in range(0, n, CHUNK):
                inputs = problem.loss_inputs[begin : begin + CHUNK]
                targets = problem.loss_targets[begin : begin + CHUNK]
                total += self.losses(thetas, inputs, targets).double() * len(inputs)
        self.model.train()
        return total / n

    def hvp(self, thetas: torch.Tensor):
        """``v -> H v`` for every member at ``thetas`` on the sharpness batch (eval mode)."""
        inputs, targets = self.problem.sharpness_batch()
        gradient = grad(self.loss_of(inputs, targets))

        def one(theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return jvp(gradient, (theta,), (v,))[1]

        batched = vmap(one)
        return lambda vectors: batched(thetas, vectors)


def lanczos_lockstep(
    product, starts: torch.Tensor, active: torch.Tensor, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
    """Top eigenpair of every active member by Lanczos (full reorthogonalization, float64
    tridiagonal), in lockstep: one batched product per step; a member stops (is frozen) once
    its Ritz residual is <= tol |theta|. Returns (values, hvps, converged, vectors), nan /
    0 / False for inactive members."""
    members, n = starts.shape
    dtype = starts.dtype
    tiny = 100 * torch.finfo(dtype).eps
    values = np.full(members, np.nan)
    hvps = np.zeros(members, dtype=np.int64)
    converged = np.zeros(members, dtype=bool)
    vectors = starts.clone()
    running = active.clone()
    q = starts / starts.double().norm(dim=1, keepdim=True).to(dtype)
    q = torch.where(running[:, None], q, torch.zeros_like(q))
    basis: list[torch.Tensor] = []
    alphas: list[torch.Tensor] = []
    betas: list[torch.Tensor] = []
    for j in range(min(max_iter, n)):
        basis.append(q)
        w = product(q)
        alpha = (q.double() * w.double()).sum(1)
        w = w - alpha.to(dtype)[:, None] * q
        if j > 0:
            w = w - betas[-1].to(dtype)[:, None] * basis[j - 1]
        for _ in range(2):
            for b in basis:
                w = w - (b * w).sum(1, keepdim=True) * b
        beta = w.double().norm(dim=1)
        alphas.append(alpha)
        for m in torch.nonzero(running).flatten().tolist():
            a = torch.stack([x[m] for x in alphas])
            t = torch.diag(a)
            if j > 0:
                off = torch.stack([x[m] for x in betas])
                t += torch.diag(off, 1) + torch.diag(off, -1)
            theta, s = torch.linalg.eigh(t)
            top = int(torch.argmax(theta))
            res = float(beta[m] * s[-1, top].abs())
            scale = float(theta.abs().max())
            last = j + 1 == min(max_iter, n)
            done = res <= tol * max(abs(float(theta[top])), tiny * scale)
            broke = float(beta[m]) <= tiny * max(scale, 1e-300)
            if done or last or broke:
                values[m], hvps[m], converged[m] = float(theta[top]), j + 1, done or broke
                ritz = s[:, top].to(dtype)
                vector = sum(c * b[m] for c, b in zip(ritz, basis, strict=False))
                vectors[m] = vector / vector.double().norm().to(dtype)
                running[m] = False
        if not bool(running.any()):
            break
        betas.append(beta)
        safe = torch.where(running, beta, torch.ones_like(beta)).to(dtype)
        q = torch.where(running[:, None], w / safe[:, None], torch.zeros_like(w))
    return values, hvps, converged, vectors


def run_members(problem: Problem, begin: Start, cs: list[float]) -> list[RunRecord]:
    """The runs at every c of ``cs`` from the shared initialization, trained together."""
    config = problem.config
    check_supported(config)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    members = Members(problem, begin.model)
    count, steps = len(cs), config.steps
    options = config.estimator.opts()
    max_iter, tol = int(options.get("max_iter", 100)), float(options.get("tol", 1e-3))
    lambda0, loss0 = begin.record.lambda0, begin.record.loss0
    # each member's learning rate per step (the schedule's, else eta = c / lambda0 throughout)
    eta_t = [rates(learning_rates(problem, c / lambda0, lambda0, steps), steps) for c in cs]
    schedule = torch.tensor(np.stack(eta_t), dtype=problem.dtype, device=problem.device)
    theta0 = begin.theta0.to(problem.dtype)
    thetas = theta0.expand(count, -1).clone()

    loss = np.full((count, steps + 1), np.nan)
    batch_loss = np.full((count, steps), np.nan)
    sharpness = np.full((count, steps + 1), np.nan)
    hvps = np.zeros((count, steps + 1), dtype=np.int64)
    converged = np.zeros((count, steps + 1), dtype=bool)
    loss[:, 0], sharpness[:, 0] = loss0, lambda0
    hvps[:, 0], converged[:, 0] = begin.record.lambda0_hvps, begin.record.lambda0_converged
    diverged_step = np.full(count, -1)
    alive = torch.ones(count, dtype=torch.bool, device=problem.device)
    if begin.vector is not None:
        warm = begin.vector.to(problem.dtype).expand(count, -1).clone()
    else:  # a resumed scan has no stored eigenvector: start from the gradient, as lanczos
        inputs, targets = problem.sharpness_batch()
        warm = members.gradients(thetas, inputs, targets)
    sharp_seconds = 0.0

    for t, index in enumerate(problem.sgd_batches(), start=1):
        inputs, targets = problem.inputs[index], problem.targets[index]
        live = alive.cpu().numpy()
        with torch.no_grad():
            minibatch = members.losses(thetas, inputs, targets).double().cpu().numpy()
        batch_loss[live, t - 1] = minibatch[live]
        gradients = members.gradients(thetas, inputs, targets)
        with torch.no_grad():
            stepped = thetas - schedule[:, t - 1, None] * gradients
            thetas = torch.where(alive[:, None], stepped, theta0.expand_as(thetas))
            values = members.eval_losses(thetas).cpu().numpy()
        for m in torch.nonzero(alive).flatten().tolist():
            loss[m, t] = values[m]
            if not np.isfinite(values[m]) or values[m] > config.divergence_threshold:
                diverged_step[m] = t
                alive[m] = False
        with torch.no_grad():  # a diverged lane holds theta_0 again: no nan anywhere
            thetas = torch.where(alive[:, None], thetas, theta0.expand_as(thetas))
        if not bool(alive.any()):
            break
        tick = time.perf_counter()
        begin.model.eval()  # the sequential operator's semantics: eval mode
        value, count_t, conv, vectors = lanczos_lockstep(
            members.hvp(thetas), warm, alive, max_iter, tol
        )
        begin.model.train()
        sharp_seconds += time.perf_counter() - tick
        live = alive.cpu().numpy()
        sharpness[live, t], hvps[live, t], converged[live, t] = (
            value[live],
            count_t[live],
            conv[live],
        )
        warm = torch.where(alive[:, None], vectors, warm)

    tau = np.linspace(0.0, 1.0, config.barrier_points)
    barrier = np.full((count, config.barrier_points), np.nan)
    with torch.no_grad():
        for i, s in enumerate(tau):
            point = torch.lerp(theta0.expand_as(thetas), thetas, float(s))
            barrier[:, i] = members.eval_losses(point).cpu().numpy()
    seconds = (time.perf_counter() - clock) / count
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out = []
    for m, c in enumerate(cs):
        run_config = config.with_c(c)
        diverged = diverged_step[m] >= 0
        out.append(
            RunRecord(
                run_id=run_config.run_id,
                scan_id=run_config.scan_id,
                config=run_config.to_dict(),
                c=float(c),
                eta=float(c / lambda0),
                eta_t=eta_t[m],
                loss=loss[m],
                batch_loss=batch_loss[m],
                sharpness=sharpness[m],
                hvps=hvps[m],
                converged=converged[m],
                barrier_tau=tau,
                barrier_loss=np.full(0, np.nan) if diverged else barrier[m],
                diverged=bool(diverged),
                diverged_step=int(diverged_step[m]),
                seconds=seconds,
                sharpness_seconds=sharp_seconds / count,
                provenance={
                    **provenance(problem.device),
                    "dtype": config.dtype,
                    "started": started,
                    "finished": finished,
                    "engine": "batched",
                    "members": count,
                },
            )
        )
    return out


class BatchedGrid:
    """The runs of a grid scan, computed ``CHUNK_CS`` values of c at a time as the scan asks
    for them in order (so a scan that stops at a divergence computes at most one chunk past
    it)."""

    def __init__(self, problem: Problem, begin: Start, cs: list[float], chunk: int = CHUNK_CS):
        check_supported(problem.config)
        self.problem, self.begin = problem, begin
        self.cs = list(cs)
        self.chunk = chunk
        self.records: dict[float, RunRecord] = {}

    def run(self, c: float) -> RunRecord:
        if c not in self.records:
            position = self.cs.index(c)
            batch = self.cs[position : position + self.chunk]
            for record in run_members(self.problem, self.begin, batch):
                self.records[record.c] = record
        return self.records[c]
