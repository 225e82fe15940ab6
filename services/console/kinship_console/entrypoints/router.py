"""The console's one router: the shared pages and each role area's."""

from fastapi import APIRouter

from kinship_console.entrypoints.employee import employee_routes
from kinship_console.entrypoints.feedback import feedback_routes
from kinship_console.entrypoints.manager import manager_routes
from kinship_console.entrypoints.pages import ConsolePages, shared_routes
from kinship_console.entrypoints.responder import responder_routes


def page_router(console: ConsolePages) -> APIRouter:
    """Every page: sign-in and the start page, then the employee's, the team manager's and
    the peer responder's (the coordinator's join here too), and feedback after a case."""
    router = APIRouter()
    router.include_router(shared_routes(console))
    router.include_router(employee_routes(console))
    router.include_router(manager_routes(console))
    router.include_router(responder_routes(console))
    router.include_router(feedback_routes(console))
    return router
