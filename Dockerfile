# Gradescope "manual Docker" image for the notebook grader.
#
#   docker build -t course/nn-autograder .
#   docker run --rm -v "$PWD/sub:/autograder/submission" -v "$PWD/res:/autograder/results" \
#       course/nn-autograder /autograder/run_autograder
#
# Gradescope's harness supplies CMD and ENTRYPOINT: this file must not set them.
# The layout and steps are those of the zip route (`grader package`): the same setup.sh and
# run_autograder, from grader/templates/.
ARG BASE_IMAGE=gradescope/autograder-base:ubuntu-22.04
FROM ${BASE_IMAGE}

# Extra index for the CPU-only torch wheel (empty: none, e.g. when PIP_FIND_LINKS provides it).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# For local builds behind a private CA or with a local wheel folder; empty values are ignored.
ARG PIP_CERT=
ARG PIP_FIND_LINKS=
ARG PIP_INDEX_URL=

COPY grader/templates/setup.sh /autograder/source/setup.sh

# System packages (python3-venv, ...) and the unprivileged user that runs student code.
RUN sed -i 's/\r$//' /autograder/source/setup.sh && bash /autograder/source/setup.sh system user

# The pinned dependencies, torch included: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md /autograder/source/
RUN bash /autograder/source/setup.sh python

# The grader, the assignments' reference solutions and tests, and the entry point.
COPY grader /autograder/source/grader
COPY solutions /autograder/source/solutions
COPY grader/templates/run_autograder /autograder/source/run_autograder
RUN sed -i 's/\r$//' /autograder/source/run_autograder \
    && bash /autograder/source/setup.sh grader protect \
    && install -m 755 /autograder/source/run_autograder /autograder/run_autograder

WORKDIR /autograder
