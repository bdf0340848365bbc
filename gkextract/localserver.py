"""A local model for a run: llama.cpp's own OpenAI-compatible server, from the ``xllamacpp`` wheel.

``gkextract run … --local-model PATH.gguf`` starts the server embedded in
xllamacpp on 127.0.0.1 (a free port), waits until it answers, points the
ordinary OpenAI client at it and stops it afterwards — also on Ctrl-C or an
error.  The server runs in a child process, not in ours: llama.cpp installs
its own SIGINT/SIGTERM handlers, which would otherwise swallow Ctrl-C, and a
child can always be killed.  The child also exits when its stdin closes, so
it never outlives a killed parent.

The same client code talks to any other local server (Ollama, vLLM,
llama.cpp's ``llama-server``) through ``--base-url``; ``server_slots`` asks a
llama.cpp server how many requests it serves at once, and ``adapt_to_server``
sets concurrency and timeout from that.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from .llm import LLMSettings

LOCAL_TIMEOUT = 900.0       # s: a 1.5B model on one CPU thread takes minutes per section
READY_MARK = "GKEXTRACT-LOCAL-SERVER-READY "

# llama.cpp's ``general.file_type`` codes for the usual quantisations (ggml's LLAMA_FTYPE_*).
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
              11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
              17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}


class LocalServerError(RuntimeError):
    pass


def server_slots(base_url: str, timeout: float = 5.0) -> int | None:
    """How many requests a llama.cpp server runs at once (``/props`` total_slots); None if it doesn't say."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        r = httpx.get(f"{root}/props", timeout=timeout)
        return int(r.json()["total_slots"]) if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def adapt_to_server(settings: LLMSettings, slots: int | None) -> LLMSettings:
    """Concurrency and timeout for a local server, unless the user chose them.

    A local server runs one request per slot and a small model on a CPU needs
    minutes per section: more requests than slots only queue and time out
    (with the defaults, 8 in flight and 120 s, every call against a one-slot
    server did).  Unknown slots (Ollama, vLLM) count as one.
    """
    changes: dict[str, Any] = {}
    if "concurrency" not in settings.explicit:
        changes["concurrency"] = max(1, slots or 1)
    if "timeout" not in settings.explicit:
        changes["timeout"] = max(settings.timeout, LOCAL_TIMEOUT)
    return replace(settings, **changes)


# --- the model file ---------------------------------------------------------------------------

def gguf_metadata(path: Path, keys: tuple[str, ...] = ("general.name", "general.file_type")) -> dict[str, Any]:
    """A few scalar keys from a GGUF header (no dependency: the format is a simple key/value list)."""
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    found: dict[str, Any] = {}
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise LocalServerError(f"{path} is not a GGUF model file")
        f.read(4)  # version
        _, n_kv = struct.unpack("<QQ", f.read(16))

        def string() -> str:
            (n,) = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8", "replace")

        def skip_or_read(t: int) -> Any:
            if t == 8:
                return string()
            if t == 9:
                et, n = struct.unpack("<IQ", f.read(12))
                for _ in range(n):
                    skip_or_read(et)
                return None
            fmt = "<" + scalar[t]
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        for _ in range(n_kv):
            key = string()
            (t,) = struct.unpack("<I", f.read(4))
            value = skip_or_read(t)
            if key in keys:
                found[key] = value
            if len(found) == len(keys):
                break
    return found


def file_sha256(path: Path) -> str:
    """sha256 of the model, cached in ``<file>.sha256`` beside it (hashing 1 GB takes seconds)."""
    stamp = path.with_suffix(".sha256")
    if stamp.is_file() and stamp.stat().st_mtime >= path.stat().st_mtime:
        return stamp.read_text().split()[0]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    try:
        stamp.write_text(digest.hexdigest() + "\n")
    except OSError:
        pass
    return digest.hexdigest()


@dataclass(frozen=True)
class ServerParams:
    """How the local server runs; recorded with every reply it gives."""

    threads: int = 1
    ctx_size: int = 16384
    slots: int = 1
    repeat_penalty: float = 1.1
    seed: int = 42


@dataclass
class LocalModel:
    """A running local server and what produced its replies."""

    path: Path
    params: ServerParams
    base_url: str = ""
    name: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)


def model_provenance(path: Path, params: ServerParams) -> dict[str, Any]:
    meta = gguf_metadata(path)
    try:
        from importlib.metadata import version
        runtime = f"xllamacpp {version('xllamacpp')}"
    except Exception:  # noqa: BLE001 - provenance only
        runtime = "xllamacpp"
    return {"model_file": path.name, "model_sha256": file_sha256(path), "model_bytes": path.stat().st_size,
            "model_name": meta.get("general.name"),
            "quantisation": FILE_TYPES.get(meta.get("general.file_type", -1), str(meta.get("general.file_type"))),
            "runtime": runtime, "server_params": asdict(params),
            "recorded_on": datetime.now(timezone.utc).date().isoformat()}


class LocalServer:
    """Context manager: start the xllamacpp server in a child process, stop it on the way out."""

    def __init__(self, model: Path, params: ServerParams = ServerParams(), name: str | None = None,
                 log: Path | None = None, start_timeout: float = 300.0) -> None:
        if not model.is_file():
            raise LocalServerError(f"no model file at {model}: run scripts/get_test_model.py, "
                                   "or give the path of a .gguf file")
        self.model = LocalModel(model, params, name=name or model.stem)
        self.log = log
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> LocalModel:
        cmd = self.command()
        self.model.provenance = model_provenance(self.model.path, self.model.params)
        log = self.log.open("a") if self.log else None
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         stderr=log or subprocess.DEVNULL)
        finally:
            if log:
                log.close()     # the child has its own handle
        try:
            self.model.base_url = self._wait_ready() + "/v1"
        except BaseException:
            self.stop()
            raise
        return self.model

    def command(self) -> list[str]:
        """The child: this module run as a script, serving until its stdin closes."""
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalServerError("--local-model needs xllamacpp: pip install 'gkextract[local]'")
        return [sys.executable, "-m", "gkextract.localserver", str(self.model.path), self.model.name,
                json.dumps(asdict(self.model.params))]

    def _wait_ready(self) -> str:
        assert self.proc and self.proc.stdout
        deadline = time.monotonic() + self.start_timeout
        line = self.proc.stdout.readline()   # the child prints one line once the model is loaded
        if not line.startswith(READY_MARK):
            try:
                code: int | None = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            raise LocalServerError(f"the local server did not start (exit status {code}); "
                                   + (f"see {self.log}" if self.log else "run with --server-log FILE to see why"))
        address = line[len(READY_MARK):].strip()
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{address}/health", timeout=5).status_code == 200:
                    return address
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise LocalServerError(f"the local server at {address} did not answer within {self.start_timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()    # the child's cue to exit
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(model: str, name: str, params: dict[str, Any]) -> None:
    """Child process: run the server until stdin closes."""
    import xllamacpp as xlc

    p = xlc.CommonParams()
    p.model.path = model
    p.model_alias = {name}
    p.hostnames = ["127.0.0.1"]
    p.port = 0                      # the server takes a free port and reports it
    p.n_parallel = params["slots"]
    p.n_ctx = params["ctx_size"] * params["slots"]
    p.cpuparams.n_threads = params["threads"]
    p.cpuparams_batch.n_threads = params["threads"]
    p.sampling.penalty_repeat = params["repeat_penalty"]
    p.sampling.seed = params["seed"]
    server = xlc.Server(p)
    print(READY_MARK + server.listening_address, flush=True)
    sys.stdin.read()                # returns when the parent closes the pipe or dies
    del server
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
