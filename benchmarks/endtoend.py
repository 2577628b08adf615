"""End to end over HTTP: uvicorn (one worker) on 127.0.0.1 and a bounded load generator.

The generator is plain asyncio sockets in this process: ``connections``
keep-alive connections send ``GET /`` with a signed-in cookie, back to back,
until ``requests`` answers have come back or ``seconds`` have passed,
whichever is first. Loopback only; it stops by itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from tests.servers import free_port

__all__ = ["Throughput", "run_endtoend"]


@dataclasses.dataclass
class Throughput:
    variant: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, list[str]]:
    """Send one request, read one response; (status, set-cookie values)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    cookies = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        lowered = name.strip().lower()
        if lowered == "content-length":
            length = int(value)
        elif lowered == "set-cookie":
            cookies.append(value.strip())
    if length:
        await reader.readexactly(length)
    return status, cookies


def _request(method: str, cookie: str) -> bytes:
    lines = [
        f"{method} {'/login' if method == 'POST' else '/'} HTTP/1.1",
        "Host: 127.0.0.1",
        "Accept: application/json",
        "User-Agent: idleguard-bench",
        "Content-Length: 0",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _load(
    port: int, signed_in: bool, connections: int, requests: int, seconds: float
) -> Throughput:
    cookie = ""
    if signed_in:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        _, cookies = await _exchange(reader, writer, _request("POST", ""))
        cookie = "; ".join(line.split(";", 1)[0] for line in cookies)
        writer.close()
        await writer.wait_closed()
    request = _request("GET", cookie or "session=" + "x" * 90)
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while len(latencies) + errors < requests and time.monotonic() < deadline:
                started = time.perf_counter()
                status, _ = await _exchange(reader, writer, request)
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
        finally:
            writer.close()
            await writer.wait_closed()

    # A short warm-up on one connection: connections, caches, script load.
    warm_reader, warm_writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(min(200, requests)):
        await _exchange(warm_reader, warm_writer, request)
    warm_writer.close()
    await warm_writer.wait_closed()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return Throughput(
        "",
        len(latencies) / elapsed,
        statistics.median(ordered) * 1e3,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        len(latencies),
        errors,
    )


def _serve(variant: str, urls: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process
    environment = {**os.environ, "BENCH_VARIANT": variant, "BENCH_URLS": json.dumps(urls)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.serve:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            log.close()
            return process, port
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    process.wait(10)
    log.seek(0)
    stderr = log.read().decode(errors="replace")[-500:]
    log.close()
    raise RuntimeError(f"uvicorn did not start for {variant}: {stderr}")


def run_endtoend(
    urls: dict[str, str],
    variants: list[str],
    rounds: int,
    requests: int,
    seconds: float,
    connections: int = 8,
) -> list[Throughput]:
    """Throughput and latency of each variant, ``rounds`` interleaved runs, medians."""
    runs: dict[str, list[Throughput]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name in variants:
            process, port = _serve(name, urls)
            try:
                signed_in = name not in ("starlette bare", "pass-through middleware")
                result = asyncio.run(_load(port, signed_in, connections, requests, seconds))
            finally:
                process.terminate()
                process.wait(10)
            runs[name].append(result)
    results = []
    for name, measured in runs.items():
        results.append(
            Throughput(
                name,
                statistics.median(r.requests_per_second for r in measured),
                statistics.median(r.p50_ms for r in measured),
                statistics.median(r.p99_ms for r in measured),
                sum(r.requests for r in measured),
                sum(r.errors for r in measured),
            )
        )
    return results
