# syntax=docker/dockerfile:1
# Rights Desk: multi-stage build; the runtime runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml setup.py README.md ./
COPY app ./app
# The migrations ship inside the package (setup.py maps alembic/ to app/migrations).
COPY alembic ./alembic
RUN pip install .

FROM python:3.11-slim AS runtime
RUN groupadd --system rightsdesk && useradd --system --gid rightsdesk --home /srv rightsdesk
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
RUN mkdir -p /srv/var && chown rightsdesk:rightsdesk /srv/var
# Development secrets, the default SQLite file and the file sender's notices live here: keep it.
VOLUME ["/srv/var"]
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RIGHTSDESK_ENV=production \
    RIGHTSDESK_VAR_DIR=/srv/var
USER rightsdesk
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["rightsdesk", "serve", "--host", "0.0.0.0", "--port", "8000"]
