"""The bare baseline of bench/payment_init.py: a FastAPI route returning a dict."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
