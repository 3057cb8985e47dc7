# pyspeaker: a small image running the speaker as a non-root user.
#
#   docker build -t pyspeaker .
#   docker run -d --name rr --network host \
#       -v $PWD/pyspeaker.toml:/etc/pyspeaker/pyspeaker.toml:ro -v pyspeaker-state:/var/lib/pyspeaker pyspeaker
#   docker kill -s HUP rr      # reload the configuration (docs/reload.md)
#   docker kill -s USR1 rr     # graceful restart, with global.state_file under /var/lib/pyspeaker
#   docker exec rr pyspeaker neighbor
#
# rfc_tests/packaging/test_dockerfile.py runs these steps outside a container engine (the
# install in a fresh virtual environment, the entry point, CMD and HEALTHCHECK against a
# running speaker), so keep RUN lines that install Python code to the commands it knows.
FROM python:3.11-slim

# the user the speaker runs as; its home is the volume for the state file and MRT files
RUN useradd --system --uid 10179 --user-group --home-dir /var/lib/pyspeaker --no-create-home pyspeaker \
    && install -d -o pyspeaker -g pyspeaker -m 0750 /var/lib/pyspeaker /var/lib/pyspeaker/mrt /etc/pyspeaker \
    && install -d -o pyspeaker -g pyspeaker -m 0750 /run/pyspeaker

WORKDIR /opt/pyspeaker
COPY pyproject.toml README.md ./
COPY pyspeaker ./pyspeaker
COPY docker/entrypoint.sh /usr/local/bin/pyspeaker-entrypoint

# A virtual environment with its own copy of the interpreter (--copies), so that the
# capability below is given to this interpreter only, not to /usr/local/bin/python.
RUN python -m venv --copies /opt/pyspeaker/venv \
    && /opt/pyspeaker/venv/bin/pip install --no-cache-dir --disable-pip-version-check ".[metrics]"

# Port 179 as a non-root user: cap_net_bind_service as a file capability on the venv's
# interpreter. Chosen over net.ipv4.ip_unprivileged_port_start=0 because that sysctl is set per
# network namespace by whoever runs the container (docker run --sysctl, a pod's
# securityContext), not by the image, and is not allowed with --network host; the capability
# travels with the image. It needs NET_BIND_SERVICE in the container's bounding set (Docker's
# default; Kubernetes: keep it in capabilities.add when dropping ALL) and no "no new
# privileges" (allowPrivilegeEscalation: false ignores file capabilities): in such a cluster,
# listen on a port above 1023 instead (global.port). libcap2-bin is removed again afterwards.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcap2-bin \
    && for py in /opt/pyspeaker/venv/bin/python*; do [ -L "$py" ] || setcap cap_net_bind_service=+ep "$py"; done \
    && apt-get purge -y --auto-remove libcap2-bin \
    && rm -rf /var/lib/apt/lists/*

# the control socket (pyspeaker status/neighbor/reload, the HEALTHCHECK) is
# $XDG_RUNTIME_DIR/pyspeaker.sock for a non-root user: /run/pyspeaker, owned by it
ENV PATH=/opt/pyspeaker/venv/bin:$PATH \
    PYSPEAKER_CONFIG=/etc/pyspeaker/pyspeaker.toml \
    XDG_RUNTIME_DIR=/run/pyspeaker \
    PYSPEAKER_SOCKET=/run/pyspeaker/pyspeaker.sock \
    PYTHONUNBUFFERED=1

VOLUME ["/var/lib/pyspeaker"]
EXPOSE 179 9179
USER pyspeaker
WORKDIR /var/lib/pyspeaker

HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["pyspeaker", "status", "--quiet"]

# SIGTERM (docker stop): Cease/Administrative Shutdown to every peer; SIGHUP: reload;
# SIGUSR1: graceful restart (state file)
ENTRYPOINT ["/usr/local/bin/pyspeaker-entrypoint"]
CMD ["run", "--log-format", "json"]
