"""Load test of ``sigver serve`` on 127.0.0.1: throughput and latency of verification.

    .venv/bin/python benchmarks/serve.py [--clients 1 8 32] [--requests 2000] [--workers 1]
        [--onnx fp32|int8] [--work DIR]

Builds a small synthetic world (random-weight SigNet_thin, WI classifier and WD
background fitted on development writers; kept in ``--work`` for the next run) and
prints the CPU time of each step of a verification in this process (decode,
preprocess, forward pass by batch size, scoring, PNG); with ``--onnx`` the service runs
that export of the model (made here), and the steps add its forward passes and how far
its scores are from PyTorch's. Then it enrolls ``--persons`` writers with 5 references
each (so they are verified by their WD SVM), starts ``sigver serve`` on a free port of
127.0.0.1, and for each client count runs ``--requests`` verify requests (one
questioned scan each, cycling over held-out genuine signatures and skilled forgeries)
from that many concurrent connections of a load generator in its own process
(pre-encoded requests, so its CPU stays small and is measured apart). Meanwhile an
admin client enrolls ``--enrollments`` new persons (create + 5 references each). Prints
per run: throughput, p50 / p95 / p99 latency, errors (must be 0), enrollments present
afterwards, the server's and the load generator's CPU per verification, the mean batch
of the forward passes and the load average. Bounded: requests and time are limited,
nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np

HELPERS = Path(__file__).resolve().parents[1] / "tests" / "helpers"
sys.path.insert(0, str(HELPERS))

from serve_process import ServeProcess  # noqa: E402
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
    parser.add_argument("--onnx", choices=("fp32", "int8"), default=None,
                        help="serve an ONNX export of the model (made here)")
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


def verify_request(port: int, person: str, key: str, name: str, data: bytes) -> bytes:
    """One complete HTTP/1.1 verify request (headers and multipart body), encoded once."""
    boundary = "sigverbench" + hashlib.sha256(data).hexdigest()[:16]
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n").encode() \
        + data + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST {API}/persons/{person}/verify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"X-API-Key: {key}\r\nContent-Type: multipart/form-data; boundary={boundary}"
            f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body


async def _load(port: int, clients: int, requests: int, encoded: list[bytes],
                timeout: float) -> dict:
    """``clients`` keep-alive connections sending ``requests`` pre-encoded requests."""
    counter = iter(range(requests))
    latencies: list[float] = []
    errors: list[str] = []

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       request: bytes) -> tuple[bytes, bytes, bool]:
        """Status, body, and whether the server keeps the connection open."""
        writer.write(request)
        status = (await reader.readline()).split(b" ", 2)
        length, keep = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            field, _, value = line.partition(b":")
            if field.lower() == b"content-length":
                length = int(value)
            elif field.lower() == b"connection" and value.strip().lower() == b"close":
                keep = False
        code = status[1] if len(status) > 1 else b"(no status)"
        return code, await reader.readexactly(length), keep

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                start = time.perf_counter()
                try:
                    code, body, keep = await exchange(reader, writer, encoded[i % len(encoded)])
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    code, body, keep = b"(connection lost)", repr(exc).encode(), False
                if code == b"200" and b'"decision"' in body:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors.append(f"{code.decode()} {body[:200]!r}")
                if not keep:  # an error response may close the connection: open another
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*[connection() for _ in range(clients)]), timeout)
    return {"latencies": latencies, "errors": errors, "start": start,
            "end": time.perf_counter(), "client_cpu": time.process_time() - cpu}


def load(port: int, clients: int, requests: int, encoded: list[bytes],
         timeout: float) -> dict:
    """The load generator, run in its own process (its CPU is measured apart)."""
    return asyncio.run(_load(port, clients, requests, encoded, timeout))


async def enroll_person(client: httpx.AsyncClient, admin: dict, name: str,
                        references: list[Path]) -> None:
    response = await client.post(f"{API}/persons", json={"name": name}, headers=admin)
    response.raise_for_status()
    response = await client.post(f"{API}/persons/{name}/references",
                                 files=files(references), headers=admin, timeout=120)
    response.raise_for_status()


async def run(server: ServeProcess, pool: ProcessPoolExecutor, clients: int, requests: int,
              encoded: list[bytes], admin: dict, clerk: dict, new_persons: dict,
              timeout: float) -> dict:
    """One run: the load process verifies while this process enrolls new persons."""
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:

        async def enroller() -> None:
            for name, references in new_persons.items():
                await asyncio.sleep(0.5)
                await enroll_person(client, admin, name, references)

        loop = asyncio.get_running_loop()
        result, _ = await asyncio.gather(
            loop.run_in_executor(pool, load, server.port, clients, requests, encoded,
                                 timeout),
            enroller())
        listed = {p["name"]: p["references"] for p in
                  (await client.get(f"{API}/persons", headers=clerk)).json()}
    lat = np.array(result["latencies"]) * 1000
    elapsed = result["end"] - result["start"]
    errors = result["errors"]
    return {"clients": clients, "ok": len(lat), "errors": len(errors),
            "first_error": errors[0] if errors else "", "seconds": elapsed,
            "throughput": len(lat) / elapsed,
            "p50": np.percentile(lat, 50), "p95": np.percentile(lat, 95),
            "p99": np.percentile(lat, 99), "client_cpu": result["client_cpu"],
            "enrolled_present": sum(listed.get(n) == len(r) for n, r in new_persons.items()),
            "enrolled": len(new_persons)}


def export_model(world: dict, precision: str) -> Path:
    """The world's model exported to ONNX (``fp32`` or ``int8``, calibrated on the
    development store), made once per world folder."""
    from sigver.deploy.export import export_onnx
    from sigver.settings import PreprocessingSettings

    out = world["root"] / f"signet_thin.{precision}.onnx"
    if not out.is_file():
        export_onnx(world["model"], out, settings=PreprocessingSettings(world["canvas"]),
                    int8=precision == "int8",
                    calibration_data=world["dev"] if precision == "int8" else None)
    return out


def score_deviation(method: str, reference: list, other: list) -> str:
    """How far the scores of ``other`` are from those of ``reference`` (same images)."""
    diff = max(abs(a.score - b.score) for a, b in zip(reference, other, strict=True))
    changed = sum(a.is_genuine != b.is_genuine for a, b in zip(reference, other, strict=True))
    scores = [a.score for a in reference]
    return (f"{method} scores (from {min(scores):.3g} to {max(scores):.3g}, threshold "
            f"{reference[0].threshold:.3g}) max |diff| {diff:.2g}, decisions changed "
            f"{changed}/{len(reference)}")


def print_stages(world: dict, scans: list[Path], torch_threads: int,
                 onnx: Path | None) -> None:
    """CPU time of each step of a verification, in this process (one thread); with an
    ONNX export, its forward passes too and how far its scores are from PyTorch's."""
    import torch

    from sigver.imageio import read_signature_image
    from sigver.preprocessing.normalize import preprocess_signature
    from sigver.serve.backend import Backend

    torch.set_num_threads(torch_threads)
    db = world["root"] / "stages.db"
    db.unlink(missing_ok=True)
    backend = Backend(db, world["classifier"], background=world["background"],
                      model_path=world["model"], canvas_size=world["canvas"])
    name, writer = next(iter(world["writers"].items()))
    backend.create_person(name)
    references = [backend.prepare(p, p.name) for p in writer["genuine"][:5]]
    backend.enroll(name, references, backend.features(references))
    scan = scans[0]
    image = read_signature_image(scan)
    prepared = backend.prepare(scan, scan.name)
    features = backend.features([prepared])
    settings = backend.settings

    def cpu_ms(step, repeat: int = 20, per: int = 1) -> float:
        step()
        start = time.thread_time()
        for _ in range(repeat):
            step()
        return 1000 * (time.thread_time() - start) / repeat / per

    def forward(network: Any, label: str) -> dict:
        return {f"forward {label}, batch of {n} (per image)": cpu_ms(
            lambda n=n: network.features([prepared] * n, settings.input_size),
            repeat=max(40 // n, 3), per=n) for n in (1, 4, 8, 16, 32)}

    steps = {
        "decode (read_signature_image)": cpu_ms(lambda: read_signature_image(scan)),
        "preprocess (preprocess_signature)": cpu_ms(lambda: preprocess_signature(
            image, settings.canvas_size, settings.img_size, input_size=None)),
        "prepare = decode + preprocess + SHA-256": cpu_ms(
            lambda: backend.prepare(scan, scan.name)),
        **forward(backend.model, "PyTorch"),
        "score (database, WD SVM, WI pairs)": cpu_ms(
            lambda: backend.verify(name, [prepared], features)),
        "PNG of the network's view": cpu_ms(lambda: backend.network_png(prepared)),
    }
    deviation = ""
    if onnx is not None:
        from sigver.serve.inference import Network

        network = Network(onnx, backend.model.sha256, engine="onnx", threads=torch_threads)
        steps.update(forward(network, f"ONNX {network.precision}"))
        # Questioned scans verified with the export's features against references
        # enrolled with PyTorch: how far each score moves, and decisions that change.
        questioned = [backend.prepare(p, p.name) for p in scans]
        by_engine = [backend.verify(name, questioned, model.features(
            questioned, settings.input_size), method=method)
            for model in (backend.model, network) for method in ("wd", "wi")]
        deviation = "; ".join(score_deviation(method, torch_scored, onnx_scored)
                              for method, torch_scored, onnx_scored in (
                                  ("WD", by_engine[0], by_engine[2]),
                                  ("WI", by_engine[1], by_engine[3])))
    print(f"CPU per step, one thread, this process (load average {load_average()}):")
    for step, ms in steps.items():
        print(f"  {step:<46} {ms:6.1f} ms")
    if deviation:
        print(f"{onnx.name} vs PyTorch, {len(scans)} questioned scans claimed as one person "
              f"(references enrolled with PyTorch): {deviation}")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def batching(url: str, clerk: dict) -> tuple[int, int]:
    """Forward passes and images so far (of the worker that answers; 0, 0 from a
    service that does not report them)."""
    stats = httpx.get(f"{url}{API}/health", headers=clerk).json().get("batching", {})
    return stats.get("forward_passes", 0), stats.get("images", 0)


def main() -> None:
    from serve_world import build_world  # torch: not in the load generator's process

    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sigver-serve-bench-"))
    t0 = time.perf_counter()
    # 5 references for the people enrolled during the runs and before + held-out.
    world = build_world(work / "world", exp_writers=args.persons + 3 * args.enrollments,
                        genuine=8, skilled=4, reuse=True)
    print(f"world ready in {time.perf_counter() - t0:.0f} s under {work}", flush=True)
    db = work / "bench.db"
    db.unlink(missing_ok=True)
    _, admin_key = create_key(db, "admin", "benchmark")
    _, clerk_key = create_key(db, "verify", "benchmark")
    admin, clerk = {"X-API-Key": admin_key}, {"X-API-Key": clerk_key}
    writers = list(world["writers"].items())
    before, later = writers[:args.persons], writers[args.persons:]
    questioned = [(name, p) for name, w in before for p in w["genuine"][5:] + w["skilled"]]
    onnx = export_model(world, args.onnx) if args.onnx else None
    serve_args = ["--db", str(db), "--classifier", str(world["classifier"]),
                  "--background", str(world["background"]), "--model-path",
                  str(onnx or world["model"]), "--canvas-size", *map(str, world["canvas"]),
                  "--workers", str(args.workers), "--max-batch", str(args.max_batch),
                  "--batch-wait-ms", str(args.batch_wait_ms),
                  "--torch-threads", str(args.torch_threads)]
    if onnx is not None:
        serve_args += ["--engine", "onnx"]
    print_stages(world, [p for _, p in questioned], args.torch_threads, onnx)
    # The load generator runs in its own process: its CPU is measured apart from the
    # server's (they share the machine's cores).
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    with pool, ServeProcess(serve_args, work / "serve.log") as server:
        async def enroll_before() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                for name, w in before:
                    await enroll_person(client, admin, name, w["genuine"][:5])
        asyncio.run(enroll_before())
        encoded = [verify_request(server.port, person, clerk_key, p.name, p.read_bytes())
                   for person, p in questioned]
        print(f"sigver serve --workers {args.workers} on {server.url}; {len(before)} persons "
              f"with 5 references (WD); {len(questioned)} questioned scans of "
              f"{questioned[0][1].stat().st_size // 1024} KiB; {args.requests} requests "
              "per run; load generator: pre-encoded requests on keep-alive connections, "
              "in its own process")
        header = (f"{'clients':>7} {'verif/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
                  f"{'errors':>6} {'enrolled':>8} {'server CPU':>10} {'client CPU':>10} "
                  f"{'batch':>6}  load average")
        print(header + "\n" + f"{'':>48} {'(during run)':>8} {'ms/verif':>10} "
              f"{'ms/verif':>10} {'mean':>6}")
        rows = []
        for run_index, clients in enumerate(args.clients):
            new = {f"{name}-run{run_index}": w["genuine"][:5]
                   for name, w in later[run_index * args.enrollments:
                                        (run_index + 1) * args.enrollments]}
            passes, images = batching(server.url, clerk)
            cpu_before = tree_cpu_seconds(server.process.pid)
            row = asyncio.run(run(server, pool, clients, args.requests, encoded, admin,
                                  clerk, new, args.timeout))
            row["cpu_ms"] = 1000 * (tree_cpu_seconds(server.process.pid) - cpu_before) \
                / max(row["ok"], 1)
            passes_after, images_after = batching(server.url, clerk)
            # one worker's counters: with several, two /health calls may reach two workers
            batch = (f"{(images_after - images) / (passes_after - passes):6.1f}"
                     if args.workers == 1 and passes_after > passes else f"{'-':>6}")
            rows.append(row)
            print(f"{clients:>7} {row['throughput']:>8.1f} {row['p50']:>7.0f} "
                  f"{row['p95']:>7.0f} {row['p99']:>7.0f} {row['errors']:>6} "
                  f"{row['enrolled_present']:>6}/{row['enrolled']} {row['cpu_ms']:>10.1f} "
                  f"{1000 * row['client_cpu'] / max(row['ok'], 1):>10.1f} {batch}  "
                  f"{load_average()}", flush=True)
            if row["errors"]:
                print(f"  first error: {row['first_error']}")
    failed = [r for r in rows if r["errors"] or r["enrolled_present"] != r["enrolled"]]
    print("FAILED: errors or missing enrollments" if failed else
          "every request answered, every enrollment present")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
