"""`hxpm serve`: an OpenAI-compatible HTTP server over hxpm.api (the [serve] extra).

Nothing outside this package imports it: FastAPI, uvicorn and prometheus_client load only
when the command runs.
"""
