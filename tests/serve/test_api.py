"""The HTTP API with the real app (TestClient): every endpoint, both roles, the errors."""

from __future__ import annotations

import io
import logging
import sqlite3
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from serve_world import blank_png
from sigver.serve.keys import revoke_key
from sigver.verification.persistence import load_verifier

API = "/api/v1"
# The session's world (model, classifier, background) takes ~15 s to build.
pytestmark = pytest.mark.slow


def upload(paths, kind="image/png"):
    return [("files", (p.name, p.read_bytes(), kind)) for p in paths]


def error_code(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]["code"]


@pytest.fixture
def enrolled(world, service):
    """Writer 001 enrolled with 5 references (a WD SVM), writer 002 with 3 (WI only)."""
    client = service["client"]()
    for name, count in (("001", 5), ("002", 3)):
        assert client.post(f"{API}/persons", json={"name": name},
                           headers=service["admin"]).status_code == 201
        response = client.post(f"{API}/persons/{name}/references",
                               files=upload(world["writers"][name]["genuine"][:count]),
                               headers=service["admin"])
        assert response.status_code == 200, response.text
        assert response.json()["method"] == ("wd" if count >= 5 else "wi")
    return client


def test_every_api_request_needs_a_valid_key(service):
    client = service["client"]()
    paths = [("GET", f"{API}/health"), ("GET", f"{API}/persons"),
             ("GET", f"{API}/persons/x"), ("DELETE", f"{API}/persons/x"),
             ("POST", f"{API}/persons"), ("POST", f"{API}/persons/x/references"),
             ("POST", f"{API}/persons/x/verify"), ("GET", f"{API}/openapi.json"),
             ("GET", f"{API}/references/{'0' * 64}/image"),
             ("GET", f"{API}/questioned/{'a' * 22}/image")]
    for method, path in paths:
        assert error_code(client.request(method, path), 401) == "missing_key"
        assert error_code(client.request(method, path, headers={"X-API-Key": "sv_nope"}),
                          401) == "invalid_key"
    ok = client.get(f"{API}/health", headers={"Authorization":
                                              f"Bearer {service['verify_key']}"})
    assert ok.status_code == 200 and ok.json()["role"] == "verify"
    revoke_key(service["db"], 2)
    assert error_code(client.get(f"{API}/health", headers=service["verify"]),
                      401) == "invalid_key"
    # the keys are stored hashed: no token in the database file
    stored = sqlite3.connect(service["db"]).execute(
        "SELECT key_sha256, role FROM api_keys ORDER BY id").fetchall()
    assert [role for _, role in stored] == ["admin", "verify"]
    assert service["admin_key"].encode() not in service["db"].read_bytes()
    # the page itself is public: it holds no data
    page = client.get("/")
    assert page.status_code == 200 and 'id="verify"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert error_code(client.get("/static/../app.py"), 404)


def test_health_and_openapi(service, world):
    client = service["client"]()
    health = client.get(f"{API}/health", headers=service["verify"]).json()
    assert health["status"] == "ok" and health["wd_available"] is True
    assert health["wi_threshold"] == load_verifier(world["classifier"]).threshold
    schema = client.get(f"{API}/openapi.json", headers=service["verify"]).json()
    assert {f"{API}/persons", f"{API}/persons/{{name}}/verify",
            f"{API}/persons/{{name}}/references"} <= set(schema["paths"])
    verify_form = schema["paths"][f"{API}/persons/{{name}}/verify"]["post"]
    assert "multipart/form-data" in verify_form["requestBody"]["content"]


def test_roles_persons_and_deletion(service, enrolled):
    client, admin, clerk = enrolled, service["admin"], service["verify"]
    persons = client.get(f"{API}/persons", headers=clerk).json()
    assert persons == [{"name": "001", "references": 5, "wd_ready": True},
                       {"name": "002", "references": 3, "wd_ready": False}]
    # only admin keys create, enroll or delete
    assert error_code(client.post(f"{API}/persons", json={"name": "003"}, headers=clerk),
                      403) == "forbidden"
    assert error_code(client.delete(f"{API}/persons/001", headers=clerk), 403)
    assert error_code(client.post(f"{API}/persons", json={"name": "001"}, headers=admin),
                      409) == "conflict"
    assert error_code(client.post(f"{API}/persons", json={"name": "a/b"}, headers=admin),
                      400) == "invalid_name"
    assert error_code(client.post(f"{API}/persons", json={"name": " x"}, headers=admin),
                      422) == "invalid_input"
    assert error_code(client.post(f"{API}/persons", json={}, headers=admin),
                      422) == "invalid_request"
    assert error_code(client.get(f"{API}/persons/nobody", headers=clerk), 404)
    detail = client.get(f"{API}/persons/001", headers=clerk).json()
    assert detail["method"] == "wd" and len(detail["references"]) == 5
    image = client.get(detail["references"][0]["image_url"], headers=clerk)
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (220, 150)  # the network input
    deleted = client.delete(f"{API}/persons/001", headers=admin).json()
    assert deleted == {"deleted": "001", "references_removed": 5}
    assert error_code(client.get(detail["references"][0]["image_url"], headers=clerk), 404)
    assert error_code(client.delete(f"{API}/persons/001", headers=admin), 404)
    assert [p["name"] for p in client.get(f"{API}/persons", headers=clerk).json()] == ["002"]
    conn = sqlite3.connect(service["db"])
    assert conn.execute("SELECT count(*) FROM wd_models").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM serve_images").fetchone()[0] == 3


def test_enrolling_needs_admin(service, world, enrolled):
    files = upload(world["writers"]["001"]["genuine"][5:6])
    assert error_code(enrolled.post(f"{API}/persons/001/references", files=files,
                                    headers=service["verify"]), 403) == "forbidden"
    assert error_code(enrolled.post(f"{API}/persons/nobody/references", files=files,
                                    headers=service["admin"]), 404) == "not_found"


def verify(client, headers, person, paths, **form):
    response = client.post(f"{API}/persons/{person}/verify", files=upload(paths),
                           data={k: str(v) for k, v in form.items()}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_verify_scores_decisions_and_links(service, world, enrolled):
    clerk = service["verify"]
    writer = world["writers"]["001"]
    questioned = writer["genuine"][5:7] + writer["skilled"][:2]
    wi = load_verifier(world["classifier"])
    for method, threshold in (("wi", wi.threshold), ("wd", 0.0)):
        results = verify(enrolled, clerk, "001", questioned, method=method)
        assert [r["file"] for r in results] == [p.name for p in questioned]
        for r in results:
            assert r["method"] == method and r["threshold"] == threshold
            assert r["decision"] == ("genuine" if r["score"] >= threshold else "forgery")
            assert len(r["reference_scores"]) == 5 and not r["is_reference"]
            pair = [s["score"] for s in r["reference_scores"]]
            if method == "wi":  # fused by the classifier's rule
                assert r["score"] == pytest.approx(max(pair), abs=1e-9)
        scores = np.array([r["score"] for r in results])
        assert scores[:2].mean() > scores[2:].mean()
    auto = verify(enrolled, clerk, "001", questioned[:1])
    assert auto[0]["method"] == "wd"
    assert verify(enrolled, clerk, "002", questioned[:1])[0]["method"] == "wi"
    # the questioned image as the network saw it
    png = enrolled.get(auto[0]["image_url"], headers=clerk)
    assert Image.open(io.BytesIO(png.content)).size == (220, 150)
    # a threshold override decides again
    score = auto[0]["score"]
    for threshold, decision in ((score - 1, "genuine"), (score + 1, "forgery")):
        again = verify(enrolled, clerk, "001", questioned[:1], threshold=threshold)[0]
        assert (again["threshold"], again["decision"]) == (threshold, decision)
        assert again["score"] == pytest.approx(score, abs=1e-9)
    # a reference verified against itself is flagged
    assert verify(enrolled, clerk, "001", writer["genuine"][:1])[0]["is_reference"]


def test_verify_errors(service, world, enrolled):
    clerk = service["verify"]
    one = upload(world["writers"]["002"]["genuine"][5:6])
    assert error_code(enrolled.post(f"{API}/persons/002/verify", files=one,
                                    data={"method": "wd"}, headers=clerk),
                      422) == "invalid_input"
    assert error_code(enrolled.post(f"{API}/persons/002/verify", files=one,
                                    data={"method": "svm"}, headers=clerk),
                      422) == "invalid_request"
    assert error_code(enrolled.post(f"{API}/persons/002/verify", files=one,
                                    data={"threshold": "high"}, headers=clerk),
                      422) == "invalid_request"
    assert error_code(enrolled.post(f"{API}/persons/nobody/verify", files=one,
                                    headers=clerk), 404) == "not_found"
    enrolled.post(f"{API}/persons", json={"name": "empty"}, headers=service["admin"])
    assert error_code(enrolled.post(f"{API}/persons/empty/verify", files=one,
                                    headers=clerk), 422) == "invalid_input"
    assert error_code(enrolled.get(f"{API}/questioned/{'a' * 22}/image", headers=clerk),
                      404) == "not_found"


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_input_limits(service, world, tmp_path):
    client = service["client"](max_files=3, max_upload_bytes=400_000, max_pixels=5_000_000)
    admin = service["admin"]
    client.post(f"{API}/persons", json={"name": "001"}, headers=admin)
    genuine = world["writers"]["001"]["genuine"]
    url = f"{API}/persons/001/references"

    def refused(files, status):
        return error_code(client.post(url, files=files, headers=admin), status)

    assert refused(upload(genuine[:4]), 413) == "too_many_files"
    big = tmp_path / "big.png"
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (800, 800), np.uint8)).save(big)
    assert big.stat().st_size > 400_000
    assert refused(upload([big]), 413) == "file_too_large"
    assert refused(upload(genuine[:1], kind="text/plain"), 415) == "unsupported_type"
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a not really")
    assert refused(upload([fake]), 415) == "unsupported_type"
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(50_000, 50_000))
    assert refused(upload([bomb]), 413) == "too_many_pixels"
    assert refused(upload([blank_png(tmp_path / "blank.png")]), 422) == "unusable_image"
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(genuine[0].read_bytes()[:200])
    assert refused(upload([truncated]), 422) in ("unusable_image", "unreadable_image")
    assert refused([], 422) == "invalid_request"
    # a body over the whole request's limit is refused before it is parsed
    huge = client.post(url, headers={**admin, "Content-Type": "multipart/form-data; "
                                     "boundary=x"}, content=b"x" * (3 * 400_000 + 70_000))
    assert error_code(huge, 413) == "request_too_large"
    # nothing of all that reached the database
    assert client.get(f"{API}/persons/001", headers=admin).json()["references"] == []


def test_failed_enrollment_changes_nothing(service, world, tmp_path):
    client, admin = service["client"](), service["admin"]
    for name in ("001", "002"):
        client.post(f"{API}/persons", json={"name": name}, headers=admin)
    genuine = world["writers"]["001"]["genuine"]
    blank = blank_png(tmp_path / "blank.png")
    response = client.post(f"{API}/persons/001/references",
                           files=upload([*genuine[:3], blank]), headers=admin)
    assert error_code(response, 422) == "unusable_image"
    assert "blank.png" in response.json()["error"]["message"]
    assert client.post(f"{API}/persons/001/references", files=upload(genuine[:2]),
                       headers=admin).status_code == 200
    # a file enrolled for 001 cannot become 002's: the whole request is refused
    response = client.post(f"{API}/persons/002/references",
                           files=upload([genuine[4], genuine[0]]), headers=admin)
    assert error_code(response, 409) == "conflict"
    persons = {p["name"]: p["references"]
               for p in client.get(f"{API}/persons", headers=admin).json()}
    assert persons == {"001": 2, "002": 0}
    conn = sqlite3.connect(service["db"])
    assert conn.execute("SELECT count(*) FROM serve_images").fetchone()[0] == 2
    # enrolling the same files again adds nothing
    again = client.post(f"{API}/persons/001/references", files=upload(genuine[:2]),
                        headers=admin).json()
    assert again["added"] == [] and len(again["already_enrolled"]) == 2


def test_request_timeout_is_408_and_changes_nothing(service, world):
    client, admin = service["client"](request_timeout_s=0.001), service["admin"]
    client.post(f"{API}/persons", json={"name": "001"}, headers=admin)
    response = client.post(f"{API}/persons/001/references",
                           files=upload(world["writers"]["001"]["genuine"][:3]),
                           headers=admin)
    assert error_code(response, 408) == "timeout"
    assert client.get(f"{API}/persons/001", headers=admin).json()["references"] == []


def test_no_key_in_the_logs(service, world, caplog):
    client = service["client"]()
    with caplog.at_level(logging.DEBUG):
        client.get(f"{API}/health", headers=service["admin"])
        client.get(f"{API}/health", headers={"X-API-Key": service["admin_key"] + "x"})
        client.post(f"{API}/persons/x/verify", headers=service["verify"],
                    files=upload(world["writers"]["001"]["genuine"][:1]))
    assert service["admin_key"] not in caplog.text
    assert service["verify_key"] not in caplog.text
