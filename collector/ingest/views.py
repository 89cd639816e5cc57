"""POST /api/v1/results: an agent's batch, read with limits and handed to the ingest pipeline."""
from __future__ import annotations

import gzip
import time
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from collector.deps import bearer
from collector.ingest import pipeline
from collector.limits import IngestGate, Overloaded
from collector.results.schemas import IngestOut
from collector.results.wire import batch_schema

router = APIRouter(prefix="/api/v1", tags=["results"])


_BATCH_SCHEMA = batch_schema()  # the one wire model (collector.results.wire)


@router.post("/results", response_model=IngestOut,
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"application/json": {"schema": _BATCH_SCHEMA}}}},
             responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}, 503: {}})
async def post_results(request: Request) -> Any:
    """Agent batches. Authenticated by the agent's own token; every result must be for its host.
    Overloaded: 503 with Retry-After (the agent keeps the batch and retries)."""
    t0 = time.perf_counter()
    settings = request.app.state.settings  # not a dependency: the hot path skips FastAPI's resolver
    metrics = request.app.state.metrics
    token = bearer(request)
    if token is None:
        metrics.rejected("unauthorized")
        raise HTTPException(401, "缺少代理令牌", headers={"WWW-Authenticate": "Bearer"})
    body = await _read_limited(request, settings.ingest.max_body_bytes)
    addr = request.client.host if request.client else ""
    try:
        async with _gate(request.app.state, settings):
            reply = await pipeline.ingest_async(state=request.app.state, settings=settings, token=token, body=body,
                                                addr=addr)
    except Overloaded as e:
        metrics.rejected("overloaded")
        raise HTTPException(503, "采集服务繁忙, 请稍后重试", headers={"Retry-After": str(e.retry_after)}) from None
    metrics.observe(time.perf_counter() - t0, reply.accepted, reply.duplicates)
    return Response(orjson.dumps(reply.to_dict()), media_type="application/json")


def _gate(state: Any, settings: Any) -> IngestGate:
    gate = getattr(state, "ingest_gate", None)
    if gate is None:
        cfg = settings.ingest
        gate = state.ingest_gate = IngestGate(cfg.concurrency, cfg.queue_wait_ms, cfg.retry_after_seconds)
    return gate


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        request.app.state.metrics.rejected("too_large")
        raise HTTPException(413, f"请求体超过 {limit} 字节")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            request.app.state.metrics.rejected("too_large")
            raise HTTPException(413, f"请求体超过 {limit} 字节")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = d.decompress(body, limit + 1)  # bounded: a gzip bomb stops at the limit
            if len(body) > limit or d.unconsumed_tail:
                raise HTTPException(413, f"解压后超过 {limit} 字节")
        except (zlib.error, gzip.BadGzipFile):
            raise HTTPException(400, "gzip 数据损坏") from None
    return body
