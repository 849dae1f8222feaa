"""Load test of ``sigver serve`` on 127.0.0.1: throughput and latency of verification.

    .venv/bin/python benchmarks/serve.py [--clients 1 8 32] [--requests 2000] [--workers 1]

Builds a small synthetic world (random-weight SigNet_thin, WI classifier and WD
background fitted on development writers), enrolls ``--persons`` writers with 5
references each (so they are verified by their WD SVM), starts ``sigver serve`` on a free
port of 127.0.0.1, and for each client count runs ``--requests`` verify requests (one
questioned scan each, cycling over held-out genuine signatures and skilled forgeries)
from that many concurrent clients. Meanwhile an admin client enrolls ``--enrollments``
new persons (create + 5 references each). Prints per run: throughput, p50 / p95 / p99
latency, errors (must be 0), forward passes per request (batching), and checks that every
enrollment done during the run is present afterwards. Bounded: requests and time are
limited, nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np

HELPERS = Path(__file__).resolve().parents[1] / "tests" / "helpers"
sys.path.insert(0, str(HELPERS))

from serve_process import ServeProcess  # noqa: E402
from serve_world import build_world  # noqa: E402
from sigver.serve.keys import create_key  # noqa: E402

API = "/api/v1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=2000, help="verify requests per run")
    parser.add_argument("--workers", type=int, default=1, help="sigver serve --workers")
    parser.add_argument("--persons", type=int, default=4, help="persons enrolled before")
    parser.add_argument("--enrollments", type=int, default=3,
                        help="persons enrolled during each run")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=10.0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the world (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one run may take at most")
    return parser.parse_args()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live children (Linux /proc)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def files(paths: list[Path]) -> list[tuple]:
    return [("files", (p.name, p.read_bytes(), "image/png")) for p in paths]


async def enroll_person(client: httpx.AsyncClient, admin: dict, name: str,
                        references: list[Path]) -> None:
    response = await client.post(f"{API}/persons", json={"name": name}, headers=admin)
    response.raise_for_status()
    response = await client.post(f"{API}/persons/{name}/references",
                                 files=files(references), headers=admin, timeout=120)
    response.raise_for_status()


async def run(url: str, clients: int, requests: int, questioned: list[tuple[str, bytes]],
              persons: list[str], admin: dict, clerk: dict, new_persons: dict,
              timeout: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            for i in counter:
                name, data = questioned[i % len(questioned)]
                person = persons[i % len(persons)]
                start = time.perf_counter()
                try:
                    response = await client.post(
                        f"{API}/persons/{person}/verify", headers=clerk,
                        files=[("files", (name, data, "image/png"))])
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.text[:100]}")
                        continue
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                latencies.append(time.perf_counter() - start)

        async def enroller() -> None:
            # Spread the enrollments over the run: one every ~requests / (n + 1) verifies.
            for name, references in new_persons.items():
                await asyncio.sleep(0.5)
                await enroll_person(client, admin, name, references)

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(enroller(), *[worker() for _ in range(clients)]),
                               timeout)
        elapsed = time.perf_counter() - start
        listed = {p["name"]: p["references"] for p in
                  (await client.get(f"{API}/persons", headers=clerk)).json()}
    lat = np.array(latencies) * 1000
    return {"clients": clients, "ok": len(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else "", "seconds": elapsed,
            "throughput": len(latencies) / elapsed,
            "p50": np.percentile(lat, 50), "p95": np.percentile(lat, 95),
            "p99": np.percentile(lat, 99),
            "enrolled_present": sum(listed.get(n) == len(r) for n, r in new_persons.items()),
            "enrolled": len(new_persons)}


def main() -> None:
    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sigver-serve-bench-"))
    t0 = time.perf_counter()
    # 4 references for the people enrolled during the runs + 5 before + held-out.
    world = build_world(work / "world", exp_writers=args.persons + 3 * args.enrollments,
                        genuine=8, skilled=4)
    print(f"world ready in {time.perf_counter() - t0:.0f} s under {work}", flush=True)
    db = work / "bench.db"
    db.unlink(missing_ok=True)
    _, admin_key = create_key(db, "admin", "benchmark")
    _, clerk_key = create_key(db, "verify", "benchmark")
    admin, clerk = {"X-API-Key": admin_key}, {"X-API-Key": clerk_key}
    writers = list(world["writers"].items())
    before, later = writers[:args.persons], writers[args.persons:]
    questioned = [(p.name, p.read_bytes()) for _, w in before
                  for p in w["genuine"][5:] + w["skilled"]]
    serve_args = ["--db", str(db), "--classifier", str(world["classifier"]),
                  "--background", str(world["background"]), "--model-path",
                  str(world["model"]), "--canvas-size", *map(str, world["canvas"]),
                  "--workers", str(args.workers), "--max-batch", str(args.max_batch),
                  "--batch-wait-ms", str(args.batch_wait_ms),
                  "--torch-threads", str(args.torch_threads)]
    with ServeProcess(serve_args, work / "serve.log") as server:
        async def enroll_before() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                for name, w in before:
                    await enroll_person(client, admin, name, w["genuine"][:5])
        asyncio.run(enroll_before())
        print(f"sigver serve --workers {args.workers} on {server.url}; {len(before)} persons "
              f"with 5 references (WD); {len(questioned)} questioned scans of "
              f"{len(questioned[0][1]) // 1024} KiB; {args.requests} requests per run")
        header = (f"{'clients':>7} {'verif/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
                  f"{'errors':>6} {'enrolled during run':>20} {'server CPU ms/verif':>20}")
        print(header)
        rows = []
        for run_index, clients in enumerate(args.clients):
            new = {f"{name}-run{run_index}": w["genuine"][:5]
                   for name, w in later[run_index * args.enrollments:
                                        (run_index + 1) * args.enrollments]}
            cpu_before = tree_cpu_seconds(server.process.pid)
            row = asyncio.run(run(server.url, clients, args.requests, questioned,
                                  [name for name, _ in before], admin, clerk, new,
                                  args.timeout))
            row["cpu_ms"] = 1000 * (tree_cpu_seconds(server.process.pid) - cpu_before) \
                / max(row["ok"], 1)
            rows.append(row)
            print(f"{clients:>7} {row['throughput']:>8.1f} {row['p50']:>7.0f} "
                  f"{row['p95']:>7.0f} {row['p99']:>7.0f} {row['errors']:>6} "
                  f"{row['enrolled_present']:>13}/{row['enrolled']} ok {row['cpu_ms']:>17.1f}",
                  flush=True)
            if row["errors"]:
                print(f"  first error: {row['first_error']}")
    failed = [r for r in rows if r["errors"] or r["enrolled_present"] != r["enrolled"]]
    print("FAILED: errors or missing enrollments" if failed else
          "every request answered, every enrollment present")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
