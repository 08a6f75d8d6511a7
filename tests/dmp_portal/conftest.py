"""The real services of tests/services.py for the production boot test."""

from tests.services import postgres_url, production_env, redis_url, s3_url  # noqa: F401
