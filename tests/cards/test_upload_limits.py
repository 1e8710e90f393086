"""The request-body limit of ``myna serve`` (myna.web.limits) lets the legitimate large
uploads through: an online application with a photograph over the 1 MiB default, and a
paper-form import file of several MiB."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
import os

import pytest
from cm_support import moved_in

from myna.web.limits import DEFAULT_MAX_BODY_BYTES

CODE = "30000000011"
DOB = dt.date(1990, 6, 15)


@functools.lru_cache(maxsize=None)
def big_photo() -> bytes:
    """A portrait that passes the photo check, grained so that PNG cannot shrink it:
    about 1.4 MB, a body over the 1 MiB default once in base64 or a form."""
    from PIL import Image, ImageDraw

    w, h = 700, 900
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    for y in range(h):
        draw.line([(0, y), (w, y)], fill=(200 - y * 100 // h, 210, 230))
    draw.ellipse([w * 0.25, h * 0.2, w * 0.75, h * 0.7], fill=(120, 80, 60))
    grain = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    buf = io.BytesIO()
    Image.blend(img, grain, 0.15).save(buf, format="PNG")
    return buf.getvalue()


def form(**over) -> dict:
    body = {
        "resident_code": CODE,
        "name": "佐藤 太郎",
        "date_of_birth": DOB.isoformat(),
        "sex": "1",
        "address": "東京都千代田区千代田2-2",
        "photo_base64": base64.b64encode(big_photo()).decode(),
    }
    body.update(over)
    return body


@pytest.fixture
def resident(platform, cm_api):
    moved_in(platform, CODE, "佐藤 太郎", DOB, dt.date(2026, 3, 1))
    return CODE


def test_online_application_with_a_photo_over_the_default_limit_is_accepted(cm_api, resident):
    body = form()
    assert len(json.dumps(body)) > DEFAULT_MAX_BODY_BYTES
    r = cm_api.post("/api/v1/card-applications", json=body, headers=cm_api.headers_for("chiyoda"))
    assert r.status_code == 201 and r.json()["status"] == "accepted", r.text


def test_paper_import_of_a_file_of_several_mib_is_imported(cm_api, resident):
    lines = [json.dumps(dict(form(), form_id=f"scan-{i}"), ensure_ascii=False) for i in range(3)]
    payload = "\n".join(lines).encode()
    assert len(payload) > 3 * DEFAULT_MAX_BODY_BYTES
    r = cm_api.post("/api/v1/card-applications/paper", files={"file": ("forms.jsonl", payload)}, headers=cm_api.headers_for("operator"))
    assert r.status_code == 200 and r.json()["forms"] == 3, r.text
