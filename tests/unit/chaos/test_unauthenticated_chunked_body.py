"""An unauthenticated body sent without a length is drained (up to the bound) before the 401,
so the client reads the answer instead of a reset connection (found by the chaos suite)."""

from tests.unit.runtime.test_limits import request, run


async def test_an_unauthenticated_chunked_body_is_drained_then_refused() -> None:
    chunks = [b"x" * 100] * 30
    app, client = await run(request(token=None), chunks, drain_bytes=10_000)
    assert (client.status, client.read, app.calls) == (401, 3000, [])


async def test_the_drain_stays_bounded() -> None:
    chunks = [b"x" * 1000] * 100
    app, client = await run(request(token=None), chunks, drain_bytes=10_000)
    assert client.status == 401 and app.calls == []
    assert client.read <= 11_000, "reading stops shortly after the bound"
