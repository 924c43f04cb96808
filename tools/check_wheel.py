"""Checks what `make wheel` built in dist/ and prints what a user's machine needs for it.

- exactly one wheel and one sdist;
- the wheel is abi3 for CPython >= 3.10 and `auditwheel show` finds it consistent with the
  manylinux tag it carries (the tag maturin chose from `--compatibility`);
- the sdist holds what a build from it needs: Cargo.lock (so `--locked` holds), both crates and
  the Python package.

Then it prints the wheel's size and the newest glibc symbol version the extension links to,
which is the oldest glibc that loads it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

SDIST_MEMBERS = (
    "Cargo.lock",
    "Cargo.toml",
    "pyproject.toml",
    "rust/fastio-core/Cargo.toml",
    "rust/fastio-py/Cargo.toml",
    "python/dagster_fastio/__init__.py",
    "python/dagster_fastio/_core.pyi",
)


def only(paths: list[Path], what: str) -> Path:
    if len(paths) != 1:
        sys.exit(f"expected one {what} in dist/, found {[p.name for p in paths]}")
    return paths[0]


def check_wheel(wheel: Path) -> str:
    """The manylinux tag auditwheel confirms; exits when the wheel is not what it claims."""
    tags = wheel.name.removesuffix(".whl").split("-")[2:]
    python, abi, platform = tags
    if (python, abi) != ("cp310", "abi3"):
        sys.exit(f"{wheel.name}: not an abi3 wheel for CPython >= 3.10")
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(shown.strip())
    # auditwheel wraps its lines; the tag it confirms is the first quoted one.
    confirmed = re.search(r'"(manylinux_\d+_\d+_\w+)"', shown)
    if confirmed is None or confirmed.group(1) not in platform.split("."):
        sys.exit(f"{wheel.name}: auditwheel does not confirm its tag {platform}")
    return confirmed.group(1)


def needed_glibc(wheel: Path) -> str:
    """The newest GLIBC_x.y symbol version in the wheel's shared libraries."""
    versions: set[tuple[int, ...]] = set()
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if ".so" in Path(name).name:
                text = archive.read(name)
                versions.update(
                    tuple(int(part) for part in match.split(b"."))
                    for match in re.findall(rb"GLIBC_(\d+\.\d+(?:\.\d+)?)", text)
                )
    if not versions:
        sys.exit(f"{wheel.name}: no glibc symbol versions found in its extension")
    return ".".join(map(str, max(versions)))


def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        # Every member sits under one folder named after the release.
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = [member for member in SDIST_MEMBERS if member not in names]
    if missing:
        sys.exit(f"{sdist.name} lacks {missing}")


def main() -> None:
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    wheel = only(sorted(dist.glob("*.whl")), "wheel")
    sdist = only(sorted(dist.glob("*.tar.gz")), "sdist")
    tag = check_wheel(wheel)
    check_sdist(sdist)
    glibc = needed_glibc(wheel)
    print(
        f"wheel  {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB, {tag}, needs glibc >= {glibc}"
    )
    print(f"sdist  {sdist.name}: {sdist.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
