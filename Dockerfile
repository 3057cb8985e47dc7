# pyspeaker: a small image running the speaker as a non-root user.
FROM python:3.11-slim
RUN useradd --system --uid 10179 --home /var/lib/pyspeaker pyspeaker
WORKDIR /opt/pyspeaker
COPY pyproject.toml README.md ./
COPY pyspeaker ./pyspeaker
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER pyspeaker
ENTRYPOINT ["pyspeaker"]
CMD ["run"]
