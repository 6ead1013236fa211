#!/usr/bin/env bash
# Prepares a Gradescope image for the notebook grader. Runs as root.
#
# Zip route: Gradescope unpacks the autograder zip to /autograder/source and runs this script once
# when it builds the image. Manual Docker route: the Dockerfile runs the same steps one by one so
# that each becomes a cached layer.
#
#   setup.sh [STEP...]   steps: system user python slim grader protect (default: all, in that order)
#                        (requirements: only write $VENV/requirements.txt, which python installs)
#
# Environment:
#   TORCH_INDEX_URL  extra package index for the CPU-only torch wheel
#                    (default https://download.pytorch.org/whl/cpu; empty: no extra index)
#   PIP_CERT, PIP_FIND_LINKS, PIP_INDEX_URL ...  passed on to pip when not empty
#   GRADER_SOURCE    the unpacked source (default /autograder/source)
#   GRADER_VENV      the virtual environment (default /autograder/venv)
#   GRADER_SANDBOX_USER  the unprivileged user that runs student code (default grader-student)
#   ASSIGNMENT_TOML  the assignment.toml whose [environment] applies when there is no requirements.txt
#   GRADER_TORCH_CUDA_OK  1: accept a CUDA build of torch (PyPI's, the only one for some Pythons)
set -euo pipefail

SOURCE="${GRADER_SOURCE:-/autograder/source}"
VENV="${GRADER_VENV:-/autograder/venv}"
SANDBOX_USER="${GRADER_SANDBOX_USER:-grader-student}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# An empty build argument must not reach pip as an empty setting.
for name in PIP_CERT PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
    if [ -z "${!name:-}" ]; then unset "$name"; fi
done

pip_install() {
    local extra=()
    if [ -n "$TORCH_INDEX_URL" ]; then extra=(--extra-index-url "$TORCH_INDEX_URL"); fi
    "$VENV/bin/python" -m pip install --no-input "${extra[@]}" "$@"
}

# System python3 belongs to Gradescope's harness: we only add packages, never replace it.
step_system() {
    local wanted=(python3 python3-venv ca-certificates adduser) missing=() pkg
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup.sh: installing ${missing[*]}"
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
        rm -rf /var/lib/apt/lists/*
    fi
}

# The grader drops student code to this user: no home, no password, no login shell.
step_user() {
    if ! id -u "$SANDBOX_USER" >/dev/null 2>&1; then
        adduser --disabled-password --no-create-home --shell /usr/sbin/nologin --gecos "" "$SANDBOX_USER"
    fi
    id "$SANDBOX_USER"
}

# What the image installs, one requirement per line, in $VENV/requirements.txt: the zip's own
# requirements.txt where there is one (`grader package` writes it), else pyproject.toml's pins with
# the assignment's [environment] applied, computed by grader/gradescope/environment.py (standard library only)
# from $ASSIGNMENT_TOML (the Dockerfile copies the assignment's). TOML is read with the standard
# library's tomllib (Python 3.11+) or, on Python 3.10 (Ubuntu 22.04), with tomli installed into a
# throwaway folder: never with a module vendored inside pip, whose version depends on the base image.
step_requirements() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    if [ -f "$SOURCE/requirements.txt" ]; then
        cp "$SOURCE/requirements.txt" "$VENV/requirements.txt"
    else
        local parser_path="" toml=()
        if ! "$VENV/bin/python" -c 'import tomllib' 2>/dev/null; then
            parser_path=$(mktemp -d /tmp/grader-toml.XXXXXX)
            "$VENV/bin/python" -m pip install --no-input --quiet --target "$parser_path" 'tomli>=1.1,<3'
        fi
        if [ -n "${ASSIGNMENT_TOML:-}" ]; then toml=("$ASSIGNMENT_TOML"); fi
        PYTHONPATH="$parser_path" "$VENV/bin/python" "$SOURCE/grader/gradescope/environment.py" \
            "$SOURCE/pyproject.toml" "${toml[@]}" > "$VENV/requirements.txt"
        if [ -n "$parser_path" ]; then rm -rf "$parser_path"; fi
    fi
    echo "setup.sh: $(grep -c . "$VENV/requirements.txt") requirements for $("$VENV/bin/python" -V), pip $("$VENV/bin/python" -m pip --version 2>/dev/null | cut -d' ' -f2)"
}

# The virtual environment with the requirements above (not the grader itself,
# so that the Docker route can cache this layer while the grader's code changes).
step_python() {
    step_requirements
    pip_install -r "$VENV/requirements.txt"
}

step_grader() {
    pip_install --no-deps "$SOURCE"
    rm -rf "$SOURCE/build" "$SOURCE"/*.egg-info
    "$VENV/bin/python" -m pip check
    # A CUDA build is several GB that grading never uses: refused unless asked for (PyPI's torch is
    # the only build for some Pythons, and it runs on the CPU too).
    "$VENV/bin/python" -c "import os, torch; assert torch.version.cuda is None or os.environ.get('GRADER_TORCH_CUDA_OK') == '1', 'a CUDA build of torch (set GRADER_TORCH_CUDA_OK=1 to accept it)'; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"
    "$VENV/bin/grader" --help > /dev/null
}

# Reference solutions and hidden tests: root only (the sandbox user must not read them).
step_protect() {
    if [ -d "$SOURCE/solutions" ]; then
        chown -R root:root "$SOURCE/solutions"
        chmod -R go-rwx "$SOURCE/solutions"
    fi
    if [ -f "$SOURCE/run_autograder" ]; then
        chmod 755 "$SOURCE/run_autograder"
    fi
}

# What grading never uses, dropped in the layer that installed it (a later layer could not make the
# image smaller): torch's C++ tests and their libraries, protoc, its C++ headers (used only to
# compile extensions) and scipy's and matplotlib's test suites (pip keeps no cache: PIP_NO_CACHE_DIR). Gradescope
# pulls the image for every assignment it runs.
step_slim() {
    local site before
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    before=$(du -sm "$VENV" | cut -f1)
    if [ -d "$site/torch" ]; then
        rm -rf "$site/torch/test" "$site/torch/include" "$site/torch/share"
        # torch/bin: C++ test programs and protoc; `import torch` needs torch_shm_manager.
        find "$site/torch/bin" -mindepth 1 -maxdepth 1 ! -name torch_shm_manager -exec rm -rf {} +
        rm -f "$site"/torch/lib/*test*.so "$site/torch/lib/libbackend_with_compiler.so"
        "$VENV/bin/python" -c "import torch, torch.nn, torch.nn.functional"  # still whole
    fi
    local package
    # Their own test suites, never imported. Not numpy's: numpy 2.2 (Python 3.10's) imports a
    # module of numpy/_core/tests from numpy.testing, which `from numpy import *` loads.
    for package in scipy matplotlib; do
        if [ -d "$site/$package" ]; then
            find "$site/$package" -depth -type d -name tests -exec rm -rf {} +
        fi
    done
    "$VENV/bin/python" -c "import importlib.util as u
for m in ('numpy', 'numpy.testing', 'scipy.signal', 'scipy.linalg', 'matplotlib.pyplot'):
    if u.find_spec(m.split('.')[0]):
        __import__(m)"  # still whole
    echo "setup.sh: $VENV went from $before MB to $(du -sm "$VENV" | cut -f1) MB"
}

steps=("$@")
if [ "${#steps[@]}" -eq 0 ]; then steps=(system user python slim grader protect); fi
for step in "${steps[@]}"; do
    case "$step" in
        system | user | requirements | python | slim | grader | protect) echo "setup.sh: $step"; "step_$step" ;;
        *) echo "setup.sh: unknown step $step" >&2; exit 2 ;;
    esac
done
