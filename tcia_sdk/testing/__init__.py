"""Testing tools: a loopback HTTP server with deterministic fault injection.

Consuming services use it to test their own pipelines offline::

    from tcia_sdk.testing import FaultPlan, LoopbackServer, Response, Status

    with LoopbackServer(lambda request: Response(200, b"[]")) as server:
        server.faults.add(Status(429, headers={"Retry-After": "0"}), times=1)
        ...  # point a client at server.url
        assert server.count("getSeries") == 2
"""

from ._dataset import cohort_dataset
from ._fake import DEFAULT_API_KEY, FakeTCIA
from ._faults import CorruptBody, Delay, Fault, FaultPlan, ResetMidBody, Status, Trickle, Truncate
from ._http import App, LoopbackServer, Request, Response
from ._serve import RunningFake, fake_tcia_server

__all__ = [
    "DEFAULT_API_KEY",
    "App",
    "CorruptBody",
    "Delay",
    "FakeTCIA",
    "Fault",
    "FaultPlan",
    "LoopbackServer",
    "Request",
    "ResetMidBody",
    "Response",
    "RunningFake",
    "Status",
    "Trickle",
    "Truncate",
    "cohort_dataset",
    "fake_tcia_server",
]
