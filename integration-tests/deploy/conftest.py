"""The compose tier's tests (``scripts/test-compose``) build and run Docker images.

They are collected only when ``SWITCHYARD_COMPOSE_TEST=1`` (the script sets it), so
that the integration tier's ``pytest integration-tests`` leaves them out.
"""

import os

collect_ignore_glob = [] if os.environ.get("SWITCHYARD_COMPOSE_TEST") == "1" else ["test_*.py"]
