"""Run an alignkit corpus flow on a SLURM cluster through dask-jobqueue.

Submits SLURM jobs that each start Dask workers (one single-threaded process per core), waits for
them, runs the corpus flow on them and releases the jobs at the end.

    export PREFECT_API_URL=http://prefect-host:4200/api
    python cluster/slurm/run_on_slurm.py /shared/corpus /shared/alignkit/store \
        --jobs 4 --cores 16 --memory 64GB --queue cpu
    # GPU alignment (soft-DTW): a GPU partition, one GPU per job, tasks request GPU=1
    python cluster/slurm/run_on_slurm.py /shared/corpus /shared/alignkit/store \
        --jobs 2 --cores 8 --memory 64GB --queue gpu --gpus 1 --method softdtw

Needs ``pip install "alignkit[dask]" dask-jobqueue`` in an environment every node sees.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    """Parse the arguments, start the SLURM cluster, run the flow, release the jobs."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("corpus")
    p.add_argument("store")
    p.add_argument("--jobs", type=int, default=2, help="SLURM jobs (each one node's worth of workers)")
    p.add_argument("--cores", type=int, default=8, help="cores per job (= worker processes per job)")
    p.add_argument("--memory", default="32GB", help="memory per job")
    p.add_argument("--queue", default=None, help="SLURM partition")
    p.add_argument("--account", default=None)
    p.add_argument("--walltime", default="04:00:00")
    p.add_argument("--gpus", type=int, default=0, help="GPUs per job; alignment tasks then request one each")
    p.add_argument("--method", default="dtw")
    p.add_argument("--pairs", default="all")
    p.add_argument("--queue-wait", type=float, default=3600, help="seconds to wait for the first job")
    args = p.parse_args(argv)

    api = os.environ.get("PREFECT_API_URL")
    if not api:
        print("error: export PREFECT_API_URL=http://<prefect-host>:4200/api first (the workers need it)",
              file=sys.stderr)
        return 1

    from dask_jobqueue import SLURMCluster

    from flows.corpus_flow import run_corpus
    from flows.runners import task_runner

    directives = [f"--gres=gpu:{args.gpus}"] if args.gpus else []
    cluster = SLURMCluster(
        queue=args.queue, account=args.account, cores=args.cores, processes=args.cores,
        memory=args.memory, walltime=args.walltime, job_extra_directives=directives,
        # every worker sees the one Prefect API and uses one BLAS thread
        job_script_prologue=[f"export PREFECT_API_URL={api}", "export OPENBLAS_NUM_THREADS=1",
                             "export OMP_NUM_THREADS=1", "export PREFECT_LOGGING_LEVEL=WARNING"],
        worker_extra_args=["--resources", f"GPU={args.gpus}"] if args.gpus else [],
    )
    try:
        cluster.scale(jobs=args.jobs)
        print(cluster.job_script())
        from distributed import Client

        with Client(cluster) as client:  # jobs may wait in the queue: wait for the first worker
            print("waiting for the first SLURM job to start ...", flush=True)
            client.wait_for_workers(1, timeout=args.queue_wait)
        with task_runner("dask", address=cluster.scheduler_address) as runner:
            result = run_corpus.with_options(task_runner=runner)(
                corpus=args.corpus, store=args.store, method=args.method, pairs=args.pairs,
                gpus=1.0 if args.gpus else 0.0)
        print({k: v for k, v in result.items() if k != "stages"})
        return 0 if not result["n_failed"] else 2
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
