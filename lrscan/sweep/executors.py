"""Where sweep tasks run. We only hand tasks to existing machinery, never schedule ourselves:

    sequential   in this process, one after the other (debugging; the benchmark's baseline)
    local        concurrent.futures.ProcessPoolExecutor (spawn), one worker per core, or one
                 per visible GPU (each pinned with CUDA_VISIBLE_DEVICES) when the device is CUDA
    ray          one Ray task per (model, revision); `num_gpus=1` per task when the device is
                 CUDA; `ray.init(address=...)` joins an existing cluster (optional extra lrscan[ray])

Every executor returns the TaskResults in the order of the work list.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from lrscan.errors import UsageError
from lrscan.sweep.models import ModelSpec
from lrscan.sweep.task import TaskResult, run_one

EXECUTORS = ("local", "ray", "sequential")
OnResult = Callable[[TaskResult, int, int], None]


def wants_gpu(device: str | None) -> bool:
    device = device or "auto"
    if device.startswith("cuda"):
        return True
    if device == "auto":
        try:
            import torch

            return torch.cuda.is_available()
        except ImportError:
            return False
    return False


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_tasks(
    specs: Sequence[ModelSpec],
    out_root: str,
    *,
    scan_kwargs: dict | None = None,
    scan_fn: Callable | str | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    on_result: OnResult | None = None,
) -> list[TaskResult]:
    if executor not in EXECUTORS:
        raise UsageError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    if not specs:
        return []
    scan_kwargs = dict(scan_kwargs or {})
    runner = {"sequential": _run_sequential, "local": _run_local, "ray": _run_ray}[executor]
    return runner(list(specs), str(out_root), scan_kwargs, scan_fn, workers, address, on_result or (lambda *a: None))


def _run_sequential(specs, out_root, scan_kwargs, scan_fn, workers, address, on_result):
    results = []
    for n, spec in enumerate(specs, 1):
        results.append(run_one(spec, out_root, scan_kwargs, scan_fn))
        on_result(results[-1], n, len(specs))
    return results


# ---------------------------------------------------------------- local process pool
def _worker_init(threads: int, gpu_queue) -> None:
    """Runs first in each spawned worker: share the cores, or take one GPU."""
    if gpu_queue is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_queue.get())
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _local_pool_size(specs, scan_kwargs, workers) -> tuple[int, list[int] | None]:
    device = scan_kwargs.get("device") or "auto"
    gpus = None
    if wants_gpu(device) and not (device.startswith("cuda:")):
        import torch

        n_gpu = torch.cuda.device_count()
        if n_gpu:
            gpus = list(range(n_gpu))
    one_named_gpu = device.startswith("cuda:")  # e.g. cuda:1: every worker would share it
    size = workers or (len(gpus) if gpus else 1 if one_named_gpu else cpu_count())
    if gpus and size > len(gpus):
        gpus = [gpus[i % len(gpus)] for i in range(size)]  # several workers may share a GPU if asked
    return max(1, min(size, len(specs))), (gpus[: min(size, len(specs))] if gpus else None)


def _run_local(specs, out_root, scan_kwargs, scan_fn, workers, address, on_result):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    size, gpus = _local_pool_size(specs, scan_kwargs, workers)
    ctx = mp.get_context("spawn")  # safe with torch threads and CUDA, unlike fork
    gpu_queue = None
    if gpus:
        gpu_queue = ctx.Queue()
        for g in gpus:
            gpu_queue.put(g)
    threads = max(1, cpu_count() // size)
    results: list[TaskResult | None] = [None] * len(specs)
    with ProcessPoolExecutor(max_workers=size, mp_context=ctx, initializer=_worker_init, initargs=(threads, gpu_queue)) as pool:
        futures = {pool.submit(run_one, s, out_root, scan_kwargs, scan_fn): i for i, s in enumerate(specs)}
        done = 0
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except BrokenProcessPool as e:
                results[i] = _died(specs[i], out_root, f"worker process died ({e or 'killed, e.g. out of memory'})")
            except Exception as e:  # unpicklable result etc.
                from lrscan.sweep.task import one_line_error

                results[i] = _died(specs[i], out_root, one_line_error(e))
            done += 1
            on_result(results[i], done, len(specs))
    return results  # type: ignore[return-value]


def _died(spec: ModelSpec, out_root: str, error: str) -> TaskResult:
    return TaskResult(spec.model, spec.revision, str(Path(out_root) / spec.slug), "failed", " ".join(error.split()))


# ---------------------------------------------------------------- ray
def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'lrscan[ray]'") from None
    return ray


def _package_parent() -> str:
    import lrscan

    return str(Path(lrscan.__file__).resolve().parent.parent)


def ray_init(address: str | None = None, num_cpus: int | None = None):
    """Start (or join, with `address`) Ray unless already initialized; returns True if we started it.

    A local Ray gets this process's PYTHONPATH plus lrscan's source folder, so its workers import
    the same lrscan; on a cluster (`address`) the lrscan package is shipped with the job
    (runtime_env py_modules), the other dependencies must be installed on the nodes.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address:
        import lrscan

        runtime_env = {"py_modules": [str(Path(lrscan.__file__).resolve().parent)]}
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    else:
        paths = [_package_parent()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}
        ray.init(num_cpus=num_cpus, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False)
    return True


def _run_ray(specs, out_root, scan_kwargs, scan_fn, workers, address, on_result):
    ray = import_ray()
    started = ray_init(address, num_cpus=workers)
    try:
        gpu = wants_gpu(scan_kwargs.get("device")) if not address else (scan_kwargs.get("device") or "").startswith("cuda")
        task = ray.remote(run_one).options(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=1)
        if gpu and not str(scan_kwargs.get("device", "")).startswith("cuda:"):
            scan_kwargs = {**scan_kwargs, "device": "cuda"}  # Ray sets CUDA_VISIBLE_DEVICES per task
        refs = {task.remote(s, out_root, scan_kwargs, scan_fn): i for i, s in enumerate(specs)}
        results: list[TaskResult | None] = [None] * len(specs)
        pending, done = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            i = refs[ready[0]]
            try:
                results[i] = ray.get(ready[0])
            except Exception as e:  # the task's worker died, or Ray could not run it
                results[i] = _died(specs[i], out_root, f"ray: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            done += 1
            on_result(results[i], done, len(specs))
        return results  # type: ignore[return-value]
    finally:
        if started:
            ray.shutdown()
