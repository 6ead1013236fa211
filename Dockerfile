# Gradescope "manual Docker" image for the notebook grader.
#
#   docker build --build-arg ASSIGNMENT=nn_basics -t course/nn-autograder .
#
# One image per assignment: ASSIGNMENT is required, only that assignment's solutions and tests are
# installed, and run_autograder grades that assignment whatever a notebook's metadata says.
#   docker run --rm -v "$PWD/sub:/autograder/submission" -v "$PWD/res:/autograder/results" \
#       -v "$PWD/submission_metadata.json:/autograder/submission_metadata.json" \
#       course/nn-autograder /autograder/run_autograder
#
# scripts/container-test (make container-test) builds it on a stand-in base and grades samples.
#
# Gradescope's harness supplies CMD and ENTRYPOINT: this file must not set them.
# The layout and steps are those of the zip route (`grader package`): the same setup.sh and
# run_autograder, from grader/gradescope/templates/.
ARG BASE_IMAGE=gradescope/autograder-base:ubuntu-22.04

# Stage 1: the assignment's requirements file, pyproject.toml's pins with its [environment]
# applied (grader/gradescope/environment.py). Only this small file reaches the image, so assignments that
# install the same list share the large layer below.
FROM ${BASE_IMAGE} AS requirements
ARG PIP_CERT=
ARG PIP_FIND_LINKS=
ARG PIP_INDEX_URL=
ARG ASSIGNMENT=
RUN test -n "$ASSIGNMENT" || { echo "Dockerfile: pass --build-arg ASSIGNMENT=NAME (one image per assignment)" >&2; exit 1; }
COPY grader/gradescope/templates/setup.sh /autograder/source/setup.sh
COPY pyproject.toml /autograder/source/
COPY grader/gradescope/environment.py /autograder/source/grader/gradescope/environment.py
COPY solutions/${ASSIGNMENT}/assignment.toml /autograder/assignment.toml
RUN sed -i 's/\r$//' /autograder/source/setup.sh && bash /autograder/source/setup.sh system \
    && ASSIGNMENT_TOML=/autograder/assignment.toml GRADER_VENV=/tmp/requirements-venv \
       bash /autograder/source/setup.sh requirements

# Stage 2: the image.
FROM ${BASE_IMAGE}

# Extra index for the CPU-only torch wheel (empty: none, e.g. when PIP_FIND_LINKS provides it).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# For local builds behind a private CA or with a local wheel folder; empty values are ignored.
ARG PIP_CERT=
ARG PIP_FIND_LINKS=
ARG PIP_INDEX_URL=
COPY grader/gradescope/templates/setup.sh /autograder/source/setup.sh

# System packages (python3-venv, ...) and the unprivileged user that runs student code.
RUN sed -i 's/\r$//' /autograder/source/setup.sh && bash /autograder/source/setup.sh system user

# The pinned dependencies, torch included: setup.sh installs the requirements file of stage 1.
# What grading never uses (torch's tests, tools and headers) goes in the same layer.
COPY --from=requirements /tmp/requirements-venv/requirements.txt /autograder/source/requirements.txt
RUN bash /autograder/source/setup.sh python slim

# The assignment this image grades (e.g. nn_basics).
ARG ASSIGNMENT=

# The grader, this assignment's reference solution and tests, and the entry point.
COPY pyproject.toml README.md /autograder/source/
COPY grader /autograder/source/grader
COPY solutions/${ASSIGNMENT} /autograder/source/solutions/${ASSIGNMENT}
RUN bash /autograder/source/setup.sh grader protect \
    && /autograder/venv/bin/python -c "import sys, grader.gradescope.packaging as p; \
          sys.stdout.buffer.write(p.render_run_autograder(sys.argv[1]))" "$ASSIGNMENT" > /autograder/run_autograder \
    && chmod 755 /autograder/run_autograder

WORKDIR /autograder
