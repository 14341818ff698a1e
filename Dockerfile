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
ENV KAFKA_LISTENERS=PLAINTEXT://0.0.0.0:9092 \
    KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 \
    KAFKA_LOG_DIRS=/data
EXPOSE 9092
VOLUME /data
CMD ["kwire", "serve"]
