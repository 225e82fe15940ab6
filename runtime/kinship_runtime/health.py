"""Liveness and readiness endpoints every service exposes."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(checks: Mapping[str, ReadinessCheck], timeout: float = 2.0) -> APIRouter:
    """``GET /healthz`` (the process answers) and ``GET /readyz`` (every dependency answers)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                outcome = await asyncio.wait_for(check(), timeout=timeout)
            except Exception as error:
                results[name] = f"unavailable: {type(error).__name__}"
            else:
                results[name] = "ok" if outcome is not False else "unavailable"
        ready = all(result == "ok" for result in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return router
