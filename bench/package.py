"""Package sizes after `sam build`: each function's folder and the layer, unzipped and zipped (as
`sam deploy` uploads them: a deflated zip of the built folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.functions import ROOT

# sam build looks for the exact Lambda runtime's interpreter on PATH (pyenv machines).
SAM_ENV = {"SAM_CLI_TELEMETRY": "0", "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.12.1:3.13.0")}


@dataclass(frozen=True)
class Size:
    artifact: str
    files: int
    unzipped_bytes: int
    zipped_bytes: int


class _Counter:
    """A write-only file that only counts what is written (zipfile needs tell())."""

    def __init__(self):
        self.size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass


def sam_command() -> Path:
    """The AWS SAM CLI: make's own venv for it (Makefile, SAM_VENV), or one beside this Python."""
    own = ROOT / ".venv-sam" / "bin" / "sam"
    return own if own.exists() else Path(sys.executable).with_name("sam")


def sam_build(build_dir: Path, sam: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sam, "build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build_dir), "--parallel"],
        cwd=ROOT,
        env=os.environ | SAM_ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )


def measure(folder: Path, artifact: str) -> Size:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    counter = _Counter()
    with zipfile.ZipFile(counter, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for path in files:
            archive.write(path, path.relative_to(folder).as_posix())
    return Size(artifact, len(files), sum(p.stat().st_size for p in files), counter.size)
