"""Packaging beyond what pyproject.toml can say: the migrations, kept at the top level as
`alembic/` (the layout of architecture.md), ship inside the wheel as `app/migrations`, so the
installed `rightsdesk` migrates from any directory (app/core/migrations.py finds them)."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["app", "app.*"]),
        "app.notifications.templates",  # data only (no __init__.py), so listed by hand
        "app.migrations",
        "app.migrations.versions",
    ],
    package_dir={"app.migrations": "alembic"},
)
