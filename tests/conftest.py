"""Shared test configuration: hypothesis profiles.

``ci`` (the default) is thorough but bounded so the whole suite stays well
under the CI time budget on a 2-core machine; ``dev`` is quicker; ``deep``
runs many more examples for a local soak (HYPOTHESIS_PROFILE=deep).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
