"""Local inference without a model: settings that follow the server, the GGUF header, and a
server child that is always stopped (at the end, on an error, on Ctrl-C).

The child here is a stand-in HTTP server (tests/fake_llama_server.py) that speaks the
same start-up line, /health and /props as the xllamacpp child; the real model runs only
in `make live-test`.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gkextract.cli import app
from gkextract.llm import LLMSettings, Mode, is_local_url, load_settings, make_client
from gkextract.localserver import (LOCAL_TIMEOUT, LocalServer, LocalServerError, ServerParams, adapt_to_server,
                                   file_sha256, gguf_metadata, model_provenance, server_slots)

FAKE_SERVER = Path(__file__).resolve().parent / "fake_llama_server.py"


def write_gguf(path: Path, file_type: int = 15, name: str = "Tiny Test Model") -> Path:
    """A GGUF header with no tensors: an array (to be skipped), the name and the file type."""

    def string(s: str) -> bytes:
        b = s.encode()
        return struct.pack("<Q", len(b)) + b

    kvs = [string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + string("a") + string("b"),
           string("general.name") + struct.pack("<I", 8) + string(name),
           string("general.file_type") + struct.pack("<II", 4, file_type)]
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
    return path


class FakeServer(LocalServer):
    """The same lifecycle, with a stand-in child instead of llama.cpp."""

    slots = 2

    def command(self) -> list[str]:
        return [sys.executable, str(FAKE_SERVER), str(self.slots)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.parametrize("url, local", [("http://127.0.0.1:8080/v1", True), ("http://localhost:11434/v1", True),
                                        ("http://[::1]:8000/v1", True), ("https://api.openai.com/v1", False),
                                        ("http://10.0.0.5:8000/v1", False), (None, False)])
def test_local_urls_are_recognised(url: str | None, local: bool) -> None:
    assert is_local_url(url) is local


def test_a_local_server_needs_no_api_key_but_a_remote_one_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = make_client(LLMSettings(base_url="http://127.0.0.1:9/v1", mode=Mode.live))
    assert client.api.api_key == "local-server-needs-no-key"
    with pytest.raises(RuntimeError, match="no API key"):
        make_client(LLMSettings(base_url="https://api.example.com/v1", mode=Mode.live))


def test_concurrency_and_timeout_follow_the_server_unless_chosen(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GKEXTRACT_CONCURRENCY", "GKEXTRACT_CONFIG", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    defaults = load_settings()
    assert (defaults.concurrency, defaults.timeout) == (8, 120.0)
    one_slot = adapt_to_server(defaults, 1)
    assert (one_slot.concurrency, one_slot.timeout) == (1, LOCAL_TIMEOUT)
    assert adapt_to_server(defaults, 4).concurrency == 4
    assert adapt_to_server(defaults, None).concurrency == 1         # Ollama, vLLM: slots unknown
    chosen = load_settings(concurrency=3)
    assert adapt_to_server(chosen, 1).concurrency == 3               # the user's choice stands
    config = tmp_path / "c.toml"
    config.write_text("timeout = 2000\n")
    assert adapt_to_server(load_settings(config), 1).timeout == 2000.0


def test_gguf_header_gives_name_and_quantisation(tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "tiny-q4_k_m.gguf")
    assert gguf_metadata(model) == {"general.name": "Tiny Test Model", "general.file_type": 15}
    prov = model_provenance(model, ServerParams())
    assert prov["model_file"] == "tiny-q4_k_m.gguf" and prov["quantisation"] == "Q4_K_M"
    assert prov["model_sha256"] == file_sha256(model) and len(prov["model_sha256"]) == 64
    assert prov["server_params"] == {"threads": 1, "ctx_size": 16384, "slots": 1, "repeat_penalty": 1.1, "seed": 42}
    (tmp_path / "not.gguf").write_bytes(b"PK\x03\x04 zip")
    with pytest.raises(LocalServerError, match="not a GGUF"):
        gguf_metadata(tmp_path / "not.gguf")


def test_server_is_stopped_at_the_end(tmp_path: Path) -> None:
    server = FakeServer(write_gguf(tmp_path / "m.gguf"))
    with server as local:
        assert local.base_url.startswith("http://127.0.0.1:") and local.base_url.endswith("/v1")
        assert httpx.get(local.base_url.removesuffix("/v1") + "/health").status_code == 200
        assert server_slots(local.base_url) == 2
        pid = server.proc.pid
        assert alive(pid)
    assert server.proc.poll() is not None and not alive(pid)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_server_is_stopped_on_an_error_or_ctrl_c(tmp_path: Path, exc: BaseException) -> None:
    server = FakeServer(write_gguf(tmp_path / "m.gguf"))
    with pytest.raises(type(exc)):
        with server:
            pid = server.proc.pid
            raise exc
    assert not alive(pid)


def test_a_child_that_fails_to_start_is_a_clear_error(tmp_path: Path) -> None:
    class Broken(LocalServer):
        def command(self) -> list[str]:
            return [sys.executable, "-c", "import sys; print('model failed to load', file=sys.stderr); sys.exit(3)"]

    log = tmp_path / "server.log"
    with pytest.raises(LocalServerError, match=r"did not start \(exit status 3\); see .*server.log"):
        with Broken(write_gguf(tmp_path / "m.gguf"), log=log):
            pass
    assert "model failed to load" in log.read_text()


def test_slots_of_a_server_that_does_not_say_are_unknown() -> None:
    assert server_slots("http://127.0.0.1:9/v1", timeout=0.5) is None   # nothing listens on port 9


def test_cli_local_model_missing_file_exits_2(tmp_path: Path) -> None:
    report = Path(__file__).parent.parent / "fixtures/reports/002_a08c52f4e01fde1f.txt"
    result = CliRunner().invoke(app, ["run", str(report), "--db", str(tmp_path / "gk.db"), "--local-model",
                                      str(tmp_path / "missing.gguf"), "--mode", "live"])
    assert result.exit_code == 2
    assert "no model file at" in result.output and "get_test_model.py" in result.output


def test_a_local_base_url_sets_concurrency_from_its_slots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ollama, vLLM or llama-server through --base-url: the same path, adapted to the server."""
    from gkextract.cli import _backend

    monkeypatch.delenv("GKEXTRACT_CONCURRENCY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with FakeServer(write_gguf(tmp_path / "m.gguf")) as local:
        settings = load_settings(base_url=local.base_url, mode=Mode.live)
        with _backend(settings, None, None) as (adapted, store):
            assert (adapted.concurrency, adapted.timeout, store) == (2, LOCAL_TIMEOUT, None)
        remote = load_settings(base_url="https://api.example.com/v1", mode=Mode.live)
        with _backend(remote, None, None) as (unchanged, _):
            assert (unchanged.concurrency, unchanged.timeout) == (8, 120.0)
