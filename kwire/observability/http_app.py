"""The routes of a node's HTTP port: /healthz, /readyz, /metrics and the console."""

from __future__ import annotations

from kwire import console
from kwire.http.messages import HttpRequest, HttpResponse
from kwire.http.router import Router
from kwire.observability import metrics_routes, share_in_flight
from kwire.observability.node_view import NodeView


def build_router(view: NodeView) -> Router:
    router = Router()

    async def healthz(request: HttpRequest) -> HttpResponse:
        # The process answers: its event loop runs. (Docker's HEALTHCHECK.)
        return HttpResponse.text(200, "ok\n")

    async def readyz(request: HttpRequest) -> HttpResponse:
        if view.ready and not view.stopping:
            return HttpResponse.text(200, "ready\n")
        return HttpResponse.text(503, "stopping\n" if view.stopping else "starting\n")

    router.add("/healthz", healthz)
    router.add("/readyz", readyz)
    metrics_routes.add_routes(router, view)
    share_in_flight.add_routes(router, view)
    console.add_routes(router, view)
    return router
