"""The anchor of every HTTP row of the benchmark table: FastAPI's own hello-world (an ``async``
route returning a dict), served by uvicorn with one worker like every sandbox process."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"Hello": "World"}
