"""Bad tokens from one address are throttled without touching the valid agents behind the same address
(a NAT): neither an agent whose token-cache entry expired nor one this process never saw is refused."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from collector.hosts import service as hosts
from collector.ingest import pipeline
from collector.ingest.auth import TokenCache
from tests.collector.conftest import Api
from tests.collector.factories import batch, result


def _flood(api: Api, n: int = 25) -> list[int]:
    return [api.post_results(batch(result()), token=f"xja_made-up-{i}").status_code for i in range(n)]


def test_bad_tokens_never_lock_out_the_valid_agent_behind_the_same_address(api: Api) -> None:
    api.app.state.ingest_tokens = TokenCache(ttl=0.2)  # the 300 s cache life, shortened
    api.app.state.ingest_failures = pipeline.FailureLimiter()
    assert api.post_results(batch(result())).status_code == 200
    codes = _flood(api)
    assert set(codes[:20]) == {401} and set(codes[20:]) == {429}
    time.sleep(0.3)  # web01's cache entry has expired: it must be looked up again, and pass
    for _ in range(3):
        r = api.post_results(batch(result()))
        assert r.status_code == 200, r.text
    # an agent this process has never seen, enrolled after the flood, behind the same address
    with api.app.state.sessionmaker() as db:
        _, fresh = hosts.enroll(db=db, name="web09")
        db.commit()
    assert api.post_results(batch(result(host="web09")), token=fresh).status_code == 200
    # the throttle still holds for bad tokens, and a rotated token is no longer vouched for
    assert _flood(api, 3) == [429, 429, 429]
    with api.app.state.sessionmaker() as db:
        hosts.enroll(db=db, name="web01")  # rotates web01's token
        db.commit()
    time.sleep(0.3)
    assert api.post_results(batch(result())).status_code == 429
    assert api.get("/api/v1/results?host=web01&limit=100")["items"].__len__() == 4


def test_a_blocked_address_holds_at_most_one_lookup_at_a_time(api: Api) -> None:
    state = api.app.state
    limiter = pipeline.FailureLimiter()
    state.ingest_failures = limiter
    state.ingest_tokens = TokenCache()
    for _ in range(limiter.max_failures):
        limiter.failed("10.0.0.7")
    running = {"now": 0, "most": 0}
    real = pipeline._lookup

    def counting(*args: Any) -> Any:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        time.sleep(0.02)
        running["now"] -= 1
        return real(*args)

    async def attempt(token: str, addr: str) -> int:
        try:
            await pipeline.ingest_async(state=state, settings=state.settings, token=token,
                                        body=b'{"agent": {}, "results": []}', addr=addr)
        except pipeline.HTTPException as e:
            return e.status_code
        return 200

    async def flood() -> list[int]:
        bad = [attempt(f"xja_guess{i}", "10.0.0.7") for i in range(12)]
        good = [attempt(api.token2, "10.0.0.7")]
        return await asyncio.gather(*bad, *good)

    pipeline._lookup = counting
    try:
        codes = asyncio.run(flood())
    finally:
        pipeline._lookup = real
    assert codes[:12] == [429] * 12
    assert codes[12] not in (401, 429)  # web02's token went through (the empty batch is judged on its own)
    assert running["most"] == 1  # every token was looked up, one at a time
