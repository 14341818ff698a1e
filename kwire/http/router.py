"""Paths to routes: exact paths, and prefixes for a tree of pages (the console)."""

from __future__ import annotations

from kwire.http.messages import HttpRequest, HttpResponse, Route


class Router:
    def __init__(self) -> None:
        self._exact: dict[str, Route] = {}
        self._prefixes: list[tuple[str, Route]] = []

    def add(self, path: str, route: Route) -> None:
        self._exact[path] = route

    def add_prefix(self, prefix: str, route: Route) -> None:
        """Every path under `prefix` (which ends with "/"), longest prefix first."""
        self._prefixes.append((prefix, route))
        self._prefixes.sort(key=lambda entry: -len(entry[0]))

    def find(self, path: str) -> Route | None:
        route = self._exact.get(path)
        if route is not None:
            return route
        for prefix, candidate in self._prefixes:
            if path.startswith(prefix):
                return candidate
        return None

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        route = self.find(request.path)
        if route is None:
            return HttpResponse.text(404, f"no page at {request.path}\n")
        return await route(request)
