"""``sigver serve``: the verification service (HTTP API and web page); needs the
``sigver[serve]`` extra (FastAPI, uvicorn, python-multipart)."""
