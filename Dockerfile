FROM python:3.11-slim
WORKDIR /opt/kwire
COPY pyproject.toml README.md ./
COPY kwire ./kwire
RUN pip install --no-cache-dir .
# The whole configuration comes from the environment (see README, "Configuration"):
# KWIRE_* for kwire's options, KAFKA_* for Kafka settings as in the apache/kafka
# image, e.g. -e KAFKA_NUM_PARTITIONS=3 or
# -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092 (by default clients
# are told localhost:9092); KWIRE_MEMORY=true keeps everything in memory.
# The HTTP port (/metrics for Prometheus, /healthz, /readyz) is on, on every
# address inside the container so Docker can reach it: publish it with -p 8080:8080.
ENV KAFKA_LISTENERS=PLAINTEXT://0.0.0.0:9092 \
    KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 \
    KAFKA_LOG_DIRS=/data \
    KWIRE_HTTP_PORT=8080 \
    KWIRE_HTTP_HOST=0.0.0.0
EXPOSE 9092 8080
VOLUME /data
# Healthy once the broker serves clients (/readyz answers 200), asked with
# python's urllib (the slim image has no curl) on the port KWIRE_HTTP_PORT says.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('KWIRE_HTTP_PORT', '8080'), timeout=2)"]
CMD ["kwire", "serve"]
