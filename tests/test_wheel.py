"""The wheel and the sdist as users get them.

The wheel `make wheel` put in dist/ (`make test` builds it first, through `make install-dev`)
is installed into a fresh virtual environment of each CPython this package supports at both
ends and in between (3.10, 3.12, 3.13), with its `dagster`, `pandas` and `polars` extras and
with no cargo or rustc on PATH, and wheel_smoke.py runs there: the standalone round trips
against pyarrow, `fastio inspect`, and FastIOManager materializing a pandas and a polars asset
that a third one loads. A missing interpreter fails: these are the versions users run.

The sdist is built by pip in one fresh environment and passes the standalone checks. That build
runs maturin with the wheel's flags, zig, interpreter and cargo target folder (see
`sdist_environment`), so cargo compiles nothing `make wheel` compiled: it checks that every
source file the crates were compiled from is in the sdist, unchanged, and compiles again what
is not. The release workflow builds the sdist from scratch.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
SMOKE = Path(__file__).with_name("wheel_smoke.py")
VERSIONS = ("3.10", "3.12", "3.13")
SDIST_VERSION = "3.12"
RUST_TOOLS = ("cargo", "rustc")
# Variables that would point a build or an import back at this checkout or its toolchain.
CHECKOUT_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def only(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    if len(found) != 1:
        pytest.fail(f"expected one {pattern} in {DIST}, found {found}: run `make wheel`")
    return found[0]


def interpreter(version: str) -> Path:
    """The newest installed CPython `version` (pyenv's first, then PATH's, never a shim)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(
        root.glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda path: [int(part) for part in path.parents[1].name.split(".") if part.isdigit()],
    )
    on_path = shutil.which(f"python{version}")
    if on_path is not None and "shims" not in Path(on_path).parts:
        candidates.append(Path(on_path))
    if not candidates:
        pytest.fail(
            f"CPython {version} is not installed (looked in {root}/versions and on PATH): "
            "the wheel must be tested on every supported version"
        )
    return candidates[-1]


def make_variable(name: str) -> str:
    """A variable as the Makefile sets it, from the environment `make test` exports or else
    from make itself, so that this file never restates the build's flags."""
    if name in os.environ:
        return os.environ[name]
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(ROOT), f"print-{name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def without_rust() -> dict[str, str]:
    """This environment less every PATH folder holding cargo or rustc, less the toolchain's
    variables and those that would import the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARGO", "RUSTUP", "RUSTC", "RUSTFLAGS", "MATURIN", "PYO3"))
        and key not in CHECKOUT_VARIABLES
    }
    folders = [
        folder
        for folder in env.get("PATH", "").split(os.pathsep)
        if folder and not any((Path(folder) / tool).exists() for tool in RUST_TOOLS)
    ]
    env["PATH"] = os.pathsep.join(folders)
    for tool in RUST_TOOLS:
        assert shutil.which(tool, path=env["PATH"]) is None, tool
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def run(command: list[str | Path], env: dict[str, str], cwd: Path, timeout: float) -> float:
    """Runs `command`, fails the test with its output if it fails; returns its seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(part) for part in command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        pytest.fail(
            f"{shlex.join(str(part) for part in command)} exited with {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        )
    return seconds


def fresh_venv(version: str, folder: Path, env: dict[str, str]) -> Path:
    """A new virtual environment of CPython `version` in `folder`; returns its python."""
    run([interpreter(version), "-m", "venv", folder], env, folder.parent, timeout=300)
    python = folder / "bin" / "python"
    assert python.exists(), python
    return python


def test_the_wheel_is_built_from_this_checkout() -> None:
    # A dist/ left from an older checkout would test old code: its Python files must be these.
    wheel = only("dagster_fastio-*.whl")
    source = ROOT / "python"
    with zipfile.ZipFile(wheel) as archive:
        packaged = {
            name: archive.read(name)
            for name in archive.namelist()
            if name.startswith("dagster_fastio/") and not name.endswith(".so")
        }
    on_disk = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in (source / "dagster_fastio").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    stale = sorted(
        name for name in on_disk.keys() | packaged.keys() if on_disk.get(name) != packaged.get(name)
    )
    assert not stale, f"{wheel.name} differs from the checkout in {stale}: run `make wheel`"
    assert "-cp310-abi3-manylinux" in wheel.name, wheel.name


@pytest.mark.parametrize("version", VERSIONS)
def test_the_wheel_installs_and_works_without_rust(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = only("dagster_fastio-*.whl")
    env = without_rust()
    python = fresh_venv(version, tmp_path / "venv", env)
    # No byte-compiling of every installed module: the checks compile what they import.
    installing = run(
        [python, "-m", "pip", "install", "-q", "--no-compile", f"{wheel}[dagster,pandas,polars]"],
        env,
        tmp_path,
        timeout=900,
    )
    checking = run([python, "-I", SMOKE, tmp_path / "smoke"], env, tmp_path, timeout=600)
    with capsys.disabled():
        print(
            f"\n  CPython {version}: installed in {installing:.0f} s, checked in {checking:.0f} s"
        )


def sdist_environment() -> dict[str, str]:
    """How the sdist is built: by pip, with the wheel's maturin flags, zig and cargo target.

    cargo reuses what `make wheel` compiled only when the linker is the same file, and maturin
    names its zig linker wrapper after the maturin executable that writes it: so the build runs
    the maturin that `make wheel` ran (from this interpreter's scripts folder, first on PATH)
    without build isolation, which would install another copy in a temporary folder.
    """
    env = {key: value for key, value in os.environ.items() if key not in CHECKOUT_VARIABLES}
    scripts = Path(sys.executable).parent
    if not (scripts / "maturin").exists():
        pytest.fail(f"no maturin in {scripts}: run `make wheel` with this interpreter")
    env["PATH"] = os.pathsep.join([str(scripts), env.get("PATH", "")])
    target = (
        subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True)
        .stdout.split("host: ")[1]
        .split()[0]
    )
    flags = make_variable("FASTIO_WHEEL_FLAGS")
    # The wheel is abi3 whatever interpreter configures pyo3; the one `make wheel` named keeps
    # pyo3 and what depends on it from being compiled again, here and in the next `make wheel`.
    env["MATURIN_PEP517_ARGS"] = f"{flags} --target {target} --interpreter {sys.executable}"
    env["CARGO_TARGET_DIR"] = make_variable("CARGO_TARGET_DIR")
    env["CARGO_ZIGBUILD_PYTHON_PATH"] = sys.executable
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def test_the_sdist_builds_with_pip_and_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdist = only("dagster_fastio-*.tar.gz")
    build_env = sdist_environment()
    python = fresh_venv(SDIST_VERSION, tmp_path / "venv", build_env)
    run(
        [python, "-m", "pip", "install", "-q", f"maturin=={version('maturin')}"],
        build_env,
        tmp_path,
        timeout=300,
    )
    building = run(
        [python, "-m", "pip", "install", "-q", "--no-compile", "--no-build-isolation", sdist],
        build_env,
        tmp_path,
        timeout=1800,
    )
    checking = run(
        [python, "-I", SMOKE, "--standalone", tmp_path / "smoke"],
        without_rust(),
        tmp_path,
        timeout=600,
    )
    with capsys.disabled():
        print(
            f"\n  CPython {SDIST_VERSION}: sdist built and installed in {building:.0f} s, "
            f"checked in {checking:.0f} s"
        )
