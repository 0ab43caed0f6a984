"""Packaging beyond what pyproject.toml can say: the migrations, kept at the top level as
`alembic/` (the layout of architecture.md), ship inside the wheel as `app/migrations`, so the
installed `rightsdesk` migrates from any directory (app/core/migrations.py finds them)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        # Namespace packages too: the folders holding only data (templates, static files,
        # language catalogues) ship as packages, so setuptools knows them.
        *find_namespace_packages(include=["app", "app.*"], exclude=["*.__pycache__"]),
        "app.migrations",
        "app.migrations.versions",
    ],
    package_dir={"app.migrations": "alembic"},
)
