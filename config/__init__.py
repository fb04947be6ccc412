# Import the Celery app whenever Django starts, so that `shared_task` and
# `delay_on_commit` use it (cookiecutter-django's config/__init__.py).
from .celery import app as celery_app

__all__ = ("celery_app",)
