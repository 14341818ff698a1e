FROM python:3.11-slim
WORKDIR /opt/kwire
COPY pyproject.toml README.md ./
COPY kwire ./kwire
RUN pip install --no-cache-dir .
ENV KWIRE_ADVERTISED_HOST=localhost
EXPOSE 9092
VOLUME /data
CMD ["sh", "-c", "exec kwire serve --host 0.0.0.0 --port 9092 --data-dir /data --advertised-host \"$KWIRE_ADVERTISED_HOST\""]
